package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// How the server's memory is measured. The server is another process, so
// its resident set is read from /proc/PID/status:
//   - VmRSS now, for "before" and "after";
//   - the peak of a phase as the larger of (a) VmRSS sampled every 10 ms
//     by a goroutine for the whole phase and (b) VmHWM, the kernel's own
//     high-water mark, after resetting it at the start of the phase by
//     writing 5 to /proc/PID/clear_refs (Linux >= 4.0; it needs the right
//     to ptrace the server, which its parent's user has). When the reset is
//     refused, (a) alone is used and the table says so: a spike shorter
//     than 10 ms could then be missed.

// memStatus is one reading of /proc/PID/status, in KiB.
type memStatus struct {
	rss, hwm, anon, file int64
}

func readStatus(pid int) (memStatus, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memStatus{}, err
	}
	defer f.Close()
	var m memStatus
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch name {
		case "VmRSS":
			dst = &m.rss
		case "VmHWM":
			dst = &m.hwm
		case "RssAnon":
			dst = &m.anon
		case "RssFile":
			dst = &m.file
		default:
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return memStatus{}, fmt.Errorf("/proc/%d/status: %s: %v", pid, name, err)
		}
		*dst = v
	}
	if m.rss == 0 {
		return memStatus{}, fmt.Errorf("/proc/%d/status has no VmRSS (is %d the server?)", pid, pid)
	}
	return m, sc.Err()
}

// cpuTime returns the process's user+system CPU time so far.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name in parentheses may hold spaces: fields count from
	// after its closing parenthesis, where field 3 (state) starts.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64) // utime, field 14
	st, err2 := strconv.ParseInt(f[12], 10, 64) // stime, field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	// USER_HZ is 100 on every Linux the suite runs on.
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// resetHWM resets the server's VmHWM to its current VmRSS.
func resetHWM(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// sampler records the largest VmRSS seen while it runs.
type sampler struct {
	pid     int
	hwmOK   bool // VmHWM was reset at start, so it is the phase's peak
	stop    chan struct{}
	done    sync.WaitGroup
	mu      sync.Mutex
	max     int64
	samples int
	err     error
}

// startSampler resets VmHWM (if permitted) and samples VmRSS every 10 ms
// until end is called.
func startSampler(pid int) *sampler {
	s := &sampler{pid: pid, stop: make(chan struct{})}
	s.hwmOK = resetHWM(pid) == nil
	s.sample()
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *sampler) sample() {
	m, err := readStatus(s.pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.err = err
		return
	}
	s.samples++
	s.max = max(s.max, m.rss)
}

// end stops sampling and returns the peak VmRSS in KiB.
func (s *sampler) end() (int64, error) {
	close(s.stop)
	s.done.Wait()
	s.sample()
	peak := s.max
	if s.hwmOK {
		if m, err := readStatus(s.pid); err == nil {
			peak = max(peak, m.hwm)
		}
	}
	return peak, s.err
}

// method says how the peak was taken, for the table's notes.
func (s *sampler) method() string {
	if s.hwmOK {
		return fmt.Sprintf("max(VmHWM after clear_refs reset, %d VmRSS samples at 10 ms)", s.samples)
	}
	return fmt.Sprintf("max of %d VmRSS samples at 10 ms (clear_refs refused)", s.samples)
}

// memRow is one line of the final memory table.
type memRow struct {
	phase               string
	before, peak, after int64 // KiB
	limitKiB            int64 // 0: none
	limitOf             string
	cpu                 time.Duration
	note                string
}

func mib(kib int64) string {
	return fmt.Sprintf("%.1f MiB", float64(kib)/1024)
}

func signedMiB(kib int64) string {
	return fmt.Sprintf("%+.1f MiB", float64(kib)/1024)
}
