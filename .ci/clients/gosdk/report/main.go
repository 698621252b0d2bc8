// Command report reads a `go test -json` (test2json) stream on stdin and
// prints one line per test, ok or FAIL, with a failing test's own output,
// then "N of M tests passed". It exits 1 unless every test passed: a failure,
// a skip, a test that started and never finished (the binary crashed or timed
// out) or a failed package without a failing test all count against the run.
//
// A test with subtests is counted through its subtests; it counts itself only
// when it fails while every subtest passed (a failure in its own body after
// them, or in a cleanup).
//
// Usage: report [-q] < test.json   (-q: print only the tests that did not pass)
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

type event struct {
	Action string
	Test   string
	Output string
}

type result struct {
	action string // last of run, pass, fail, skip
	output []string
}

func main() {
	quiet := flag.Bool("q", false, "print only the tests that did not pass")
	flag.Parse()
	if err := run(os.Stdin, os.Stdout, *quiet); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer, quiet bool) error {
	tests := map[string]*result{}
	var order []string
	var pkgAction string
	var pkgOutput []string
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if err := json.Unmarshal(line, &ev); err != nil {
			// Not test2json: something the binary printed before the stream.
			pkgOutput = append(pkgOutput, string(line)+"\n")
			continue
		}
		if ev.Test == "" {
			switch ev.Action {
			case "pass", "fail", "skip":
				pkgAction = ev.Action
			case "output":
				pkgOutput = append(pkgOutput, ev.Output)
			}
			continue
		}
		r := tests[ev.Test]
		if r == nil {
			r = &result{}
			tests[ev.Test] = r
			order = append(order, ev.Test)
		}
		switch ev.Action {
		case "run", "pass", "fail", "skip":
			r.action = ev.Action
		case "output":
			r.output = append(r.output, ev.Output)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}

	hasSub := map[string]bool{}
	subFailed := map[string]bool{}
	for _, name := range order {
		for p := name; strings.Contains(p, "/"); {
			p = p[:strings.LastIndex(p, "/")]
			hasSub[p] = true
			if tests[name].action != "pass" {
				subFailed[p] = true
			}
		}
	}

	passed, total := 0, 0
	for _, name := range order {
		r := tests[name]
		if hasSub[name] && (r.action == "pass" || subFailed[name]) {
			continue
		}
		total++
		switch r.action {
		case "pass":
			passed++
			if !quiet {
				fmt.Fprintf(out, "  ok   %s\n", name)
			}
			continue
		case "skip":
			fmt.Fprintf(out, "  SKIP %s\n", name)
		case "fail":
			fmt.Fprintf(out, "  FAIL %s\n", name)
		default:
			fmt.Fprintf(out, "  FAIL %s (started, never finished: the test binary crashed or timed out)\n", name)
		}
		printOwn(out, r.output)
	}

	fmt.Fprintf(out, "%d of %d tests passed\n", passed, total)
	switch {
	case total == 0:
		printOwn(out, pkgOutput)
		return fmt.Errorf("no test ran")
	case pkgAction != "pass" && passed == total:
		printOwn(out, pkgOutput)
		return fmt.Errorf("the package failed (%q) though every test passed", pkgAction)
	case passed != total:
		return fmt.Errorf("%d of %d tests did not pass", total-passed, total)
	}
	return nil
}

// printOwn prints a test's output without the framing lines that go test
// adds (=== RUN, --- PASS and the like), indented under its result line.
func printOwn(out io.Writer, chunks []string) {
	// test2json may cut a long line into several events: join them first.
	text := strings.TrimSuffix(strings.Join(chunks, ""), "\n")
	if text == "" {
		return
	}
	for _, l := range strings.Split(text, "\n") {
		t := strings.TrimLeft(l, " ")
		if strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- PASS") || strings.HasPrefix(t, "--- FAIL") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		fmt.Fprintf(out, "       %s\n", l)
	}
}
