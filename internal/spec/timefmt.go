package spec

import "time"

// TimeLayout is the timestamp format of ACR's metadata API: RFC 3339 in UTC
// with up to seven fractional digits and trailing zeros dropped, as ACR
// serves them ("2024-01-24T06:16:24.927259Z", "2024-01-24T06:16:12.6787894Z"
// in ../shared/docs/acr-recordings).
const TimeLayout = "2006-01-02T15:04:05.9999999Z"

// FormatTime formats t in [TimeLayout], truncated to ACR's 100 ns ticks.
func FormatTime(t time.Time) string {
	return t.UTC().Truncate(100 * time.Nanosecond).Format(TimeLayout)
}
