// Command abuse is a bounded abuse-and-load suite for `acrctl serve`, run
// against a real server process so that the server's memory can be read
// from /proc/PID/status. It is both a CI check (.ci/abuse.sh, small sizes)
// and the benchmark of issue 16 (default sizes):
//
//	abuse -url http://127.0.0.1:5000 -pid 1234 -user ci:secret \
//	      -user2 other:secret2 -victim victim:right -aad-token abuse-aad
//
// The server must be started with those credentials (--user for each of
// -user, -user2 and -victim, --aad-token, --anonymous-pull) and with
// --data, so that every acknowledged write is durable.
//
// Phases, in this order unless -phases says otherwise:
//
//	bomb     concurrent 4 MiB "wide JSON bombs": each refused with a 4xx,
//	         the server's resident set may grow at most -delta-limit MiB.
//	         First, so that the delta is taken against a fresh heap that
//	         earlier phases have not left room in.
//	hostile  malformed, oversized and racing requests (every input of issue
//	         16 and many more): each must get a 4xx with an OCI error body
//	         {"errors":[{"code":...}]} (the few exceptions ACR itself makes
//	         are listed in hostile.go with their evidence) and change nothing.
//	load     -clients concurrent clients each push then pull -images small
//	         images, verifying every byte against its digest: no 5xx, no
//	         transport error, and the server's peak resident set at most
//	         -rss-limit MiB.
//	listing  -annotated manifests with -annotation-bytes of annotations
//	         each, then three one-item listings (by name, timedesc,
//	         timeasc), a full paged walk and the repository's properties:
//	         the resident set -settle after them may be at most
//	         -delta-limit MiB above its level before them.
//	verify   every write the suite was told succeeded is read back (tags,
//	         manifests by digest, blobs, each checked against its digest).
//
// It prints one line per check ("  ok   ..." or "  FAIL ..."), then a table
// of the server's memory, and exits 1 if any check failed. With -ledger
// FILE it also writes the acknowledged writes to FILE; -verify FILE reads
// such a file back against a (restarted) server and runs nothing else.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type config struct {
	url, user, user2, victim, aadToken string
	pid                                int
	clients, images, layerMax          int
	rssLimitMiB, deltaLimitMiB         int
	bombs, bombRounds                  int
	annotated, annotationBytes         int
	chain                              int
	settle                             time.Duration
	phases                             []string
	ledger, verify                     string
}

// suite is one run: its configuration, its clients and its verdicts.
type suite struct {
	cfg    config
	c      *client // as -user
	counts *counts

	mu     sync.Mutex
	fails  int
	checks int
	mem    []memRow
	notes  []string
	ack    *ledger

	headMisses atomic.Int64 // the load's HEADs of blobs not pushed yet: its only expected 4xx
}

func main() {
	var cfg config
	var phases string
	flag.StringVar(&cfg.url, "url", "", "the registry's URL (required)")
	flag.IntVar(&cfg.pid, "pid", 0, "the server's process id, for its memory (required for the bomb, load and listing phases)")
	flag.StringVar(&cfg.user, "user", "", "NAME:PASSWORD sent as Basic on every request (empty: anonymous, for an open registry)")
	flag.StringVar(&cfg.user2, "user2", "", "a second NAME:PASSWORD, to show one client's caps do not lock out another")
	flag.StringVar(&cfg.victim, "victim", "", "NAME:PASSWORD of a user whose sign-in is throttled on purpose (unused otherwise)")
	flag.StringVar(&cfg.aadToken, "aad-token", "", "an Entra ID token the server accepts (--aad-token), for /oauth2/exchange inputs")
	flag.IntVar(&cfg.clients, "clients", 48, "concurrent clients in the load phase")
	flag.IntVar(&cfg.images, "images", 25, "images each load client pushes and pulls")
	flag.IntVar(&cfg.layerMax, "layer-max", 16<<10, "largest layer in the load phase, bytes")
	flag.IntVar(&cfg.rssLimitMiB, "rss-limit", 256, "largest server resident set allowed during the load phase, MiB")
	flag.IntVar(&cfg.deltaLimitMiB, "delta-limit", 64, "largest growth of the server's resident set for the bombs and the listings, MiB")
	flag.IntVar(&cfg.bombs, "bombs", 3, "wide JSON bombs sent at once")
	flag.IntVar(&cfg.bombRounds, "bomb-rounds", 2, "times the concurrent bombs are sent")
	flag.IntVar(&cfg.annotated, "annotated", 40, "manifests with large annotations in the listing phase")
	flag.IntVar(&cfg.annotationBytes, "annotation-bytes", 4_000_000, "bytes of annotations in each of those manifests")
	flag.IntVar(&cfg.chain, "chain", 40, "length of the referrer chains deleted in the hostile phase (issue 16: more than 16)")
	flag.DurationVar(&cfg.settle, "settle", 3*time.Second, "wait before the 'after' memory reading")
	flag.StringVar(&phases, "phases", "bomb,hostile,load,listing,verify", "phases to run, in order")
	flag.StringVar(&cfg.ledger, "ledger", "", "write the acknowledged writes to this file")
	flag.StringVar(&cfg.verify, "verify", "", "only read back the acknowledged writes in this file (from -ledger)")
	timeout := flag.Duration("timeout", 15*time.Minute, "give up after this long")
	flag.Parse()
	if cfg.url == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	cfg.url = strings.TrimRight(cfg.url, "/")
	cfg.phases = strings.Split(phases, ",")
	for _, p := range cfg.phases {
		if !slices.Contains([]string{"bomb", "hostile", "load", "listing", "verify"}, p) {
			fmt.Fprintf(os.Stderr, "abuse: unknown phase %q\n", p)
			os.Exit(2)
		}
		if (p == "bomb" || p == "load" || p == "listing") && cfg.pid <= 0 && cfg.verify == "" {
			fmt.Fprintf(os.Stderr, "abuse: phase %s measures the server's memory: give -pid\n", p)
			os.Exit(2)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	cnt := &counts{}
	s := &suite{cfg: cfg, counts: cnt, ack: &ledger{}}
	s.c = &client{base: cfg.url, hc: &http.Client{Transport: newTransport(), Timeout: 2 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		auth: basicAuth(cfg.user), counts: cnt}

	start := time.Now()
	if cfg.verify != "" {
		l, err := readLedger(cfg.verify)
		if err != nil {
			fmt.Fprintln(os.Stderr, "abuse:", err)
			os.Exit(2)
		}
		fmt.Printf("== verify: %d acknowledged images from %s\n", len(l.Images), cfg.verify)
		s.verifyLedger(ctx, l)
	} else {
		if r := s.c.do(ctx, "GET", "/v2/", nil); r.status != http.StatusOK {
			fmt.Fprintf(os.Stderr, "abuse: the registry does not accept -user: %s\n", r)
			os.Exit(2)
		}
		for _, p := range cfg.phases {
			before := cnt.snapshot()
			t0 := time.Now()
			switch p {
			case "bomb":
				fmt.Println("== bomb: concurrent wide JSON bombs")
				s.bombPhase(ctx)
			case "hostile":
				fmt.Println("== hostile: each input refused with a 4xx and an OCI error body, nothing changed")
				s.hostilePhase(ctx)
			case "load":
				fmt.Printf("== load: %d clients x %d images, push then pull\n", cfg.clients, cfg.images)
				s.loadPhase(ctx)
			case "listing":
				fmt.Printf("== listing: %d manifests x %d bytes of annotations\n", cfg.annotated, cfg.annotationBytes)
				s.listingPhase(ctx)
			case "verify":
				fmt.Printf("== verify: every acknowledged write of this run (%d images)\n", len(s.ack.Images))
				s.verifyLedger(ctx, s.ack)
			}
			after := cnt.snapshot()
			fmt.Printf("   (%s: %d requests in %.1f s; 2xx %d, 3xx %d, 4xx %d, 5xx %d, transport errors %d)\n",
				p, after[0]-before[0], time.Since(t0).Seconds(), after[1]-before[1], after[2]-before[2],
				after[3]-before[3], after[4]-before[4], after[5]-before[5])
			if ctx.Err() != nil {
				s.fail("the suite ran out of time (-timeout %v) in phase %s", *timeout, p)
				break
			}
		}
		if cfg.ledger != "" {
			if err := s.ack.write(cfg.ledger); err != nil {
				s.fail("write the ledger: %v", err)
			}
		}
	}

	// Any 5xx or transport error anywhere is a failure, whatever the phase
	// expected: clients retry 5xx, and a registry that answers one to a
	// hostile input has a bug.
	total := cnt.snapshot()
	if total[4] > 0 || total[5] > 0 {
		s.fail("%d answers were 5xx and %d requests got no answer in the whole run", total[4], total[5])
	} else {
		s.ok("no 5xx and no transport error in %d requests", total[0])
	}
	for _, e := range cnt.takeExamples() {
		fmt.Println("       ", e)
	}
	s.printMemory()
	fmt.Printf("abuse: %d checks, %d failed, %.1f s\n", s.checks, s.fails, time.Since(start).Seconds())
	if s.fails > 0 {
		os.Exit(1)
	}
}

func (s *suite) ok(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks++
	fmt.Printf("  ok   %s\n", fmt.Sprintf(format, args...))
}

func (s *suite) fail(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks++
	s.fails++
	fmt.Printf("  FAIL %s\n", fmt.Sprintf(format, args...))
}

// check prints ok or FAIL with what; why says what was wrong.
func (s *suite) check(good bool, what string, why string, args ...any) bool {
	if good {
		s.ok("%s", what)
	} else {
		s.fail("%s: %s", what, fmt.Sprintf(why, args...))
	}
	return good
}

func (s *suite) note(format string, args ...any) {
	s.mu.Lock()
	s.notes = append(s.notes, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

func (s *suite) printMemory() {
	if len(s.mem) == 0 {
		return
	}
	fmt.Printf("\nserver memory (pid %d; VmRSS from /proc/PID/status)\n", s.cfg.pid)
	fmt.Printf("%-58s %11s %11s %11s %12s %12s %15s %7s  %s\n",
		"phase", "before", "peak", "after", "peak-before", "after-before", "limit", "cpu", "verdict")
	for _, m := range s.mem {
		limit, verdict := "-", "-"
		if m.limitKiB > 0 {
			v := m.peak
			switch m.limitOf {
			case "peak-before":
				v = m.peak - m.before
			case "after-before":
				v = m.after - m.before
			}
			limit = m.limitOf + "<=" + fmt.Sprintf("%d", m.limitKiB>>10)
			verdict = "ok"
			if v > m.limitKiB {
				verdict = "FAIL"
			}
		}
		fmt.Printf("%-58s %11s %11s %11s %12s %12s %15s %6.1fs  %s\n", m.phase, mib(m.before), mib(m.peak), mib(m.after),
			signedMiB(m.peak-m.before), signedMiB(m.after-m.before), limit, m.cpu.Seconds(), verdict)
	}
	for _, m := range s.mem {
		if m.note != "" {
			fmt.Printf("  %s: %s\n", m.phase, m.note)
		}
	}
	for _, n := range s.notes {
		fmt.Printf("  %s\n", n)
	}
}

// measure runs fn while sampling the server's memory and CPU. The
// "before" reading is taken after settle, "after" settle after fn.
func (s *suite) measure(phase string, settle time.Duration, fn func()) memRow {
	row := memRow{phase: phase}
	time.Sleep(settle)
	m0, err := readStatus(s.cfg.pid)
	if err != nil {
		s.fail("%s: read the server's memory: %v", phase, err)
		fn()
		return row
	}
	cpu0, _ := cpuTime(s.cfg.pid)
	sm := startSampler(s.cfg.pid)
	fn()
	peak, serr := sm.end()
	cpu1, _ := cpuTime(s.cfg.pid)
	if serr != nil {
		s.fail("%s: sample the server's memory: %v", phase, serr)
	}
	time.Sleep(settle)
	m1, err := readStatus(s.cfg.pid)
	if err != nil {
		s.fail("%s: read the server's memory after: %v", phase, err)
	}
	row.before, row.peak, row.after, row.cpu = m0.rss, max(peak, m1.rss), m1.rss, cpu1-cpu0
	row.note = fmt.Sprintf("peak = %s; after read %v after the phase (RssAnon %s, RssFile %s)",
		sm.method(), settle, mib(m1.anon), mib(m1.file))
	return row
}

func (s *suite) addMem(row memRow) {
	s.mu.Lock()
	s.mem = append(s.mem, row)
	s.mu.Unlock()
}
