package spec

import "time"

// TimeLayout is the timestamp format of ACR's metadata API: RFC 3339 in UTC
// with seven fractional digits, as .NET writes them.
const TimeLayout = "2006-01-02T15:04:05.0000000Z"

// FormatTime formats t in [TimeLayout].
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }
