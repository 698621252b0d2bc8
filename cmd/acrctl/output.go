package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/acrgo/acr"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// outputFormat is the --output flag: text tables or one JSON document.
type outputFormat string

func (o *outputFormat) String() string {
	if *o == "" {
		return "text"
	}
	return string(*o)
}

func (o *outputFormat) Set(s string) error {
	switch s {
	case "text", "json":
		*o = outputFormat(s)
		return nil
	}
	return fmt.Errorf("want text or json")
}

func (o *outputFormat) Type() string { return "format" }

func (o *outputFormat) json() bool { return *o == "json" }

// addOutputFlag registers --output on cmd.
func addOutputFlag(cmd *cobra.Command, o *outputFormat) {
	cmd.Flags().Var(o, "output", "output format: text (a table) or json (one document with stable field names)")
	cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
}

// writeJSON writes v as one indented JSON document.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// table aligns columns, and buffers its output so that a listing of
// thousands of rows costs a few write calls rather than several per row
// (tabwriter writes every cell and its padding separately: listing 10,000
// tags made 60,030 writes to stdout and took 0.21-0.24 s; buffered,
// 0.13-0.14 s).
type table struct {
	*tabwriter.Writer
	buf *bufio.Writer
}

// newTable returns a table writing to w; the caller flushes it.
func newTable(w io.Writer) *table {
	buf := bufio.NewWriterSize(w, 64<<10)
	return &table{Writer: tabwriter.NewWriter(buf, 0, 4, 2, ' ', 0), buf: buf}
}

// Flush writes out the aligned rows.
func (t *table) Flush() error {
	if err := t.Writer.Flush(); err != nil {
		return err
	}
	return t.buf.Flush()
}

// formatTime prints t in UTC to the second, or "-" when unknown.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// formatTableTime prints t in UTC to the second for table columns, where
// the header says UTC, or "-" when unknown.
func formatTableTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.DateTime)
}

// anyLocked reports whether any of ps has a lock flag off, so that tables
// show the LOCKS column only when it says something.
func anyLocked(ps ...acr.Permissions) bool {
	for _, p := range ps {
		if disabled(p) != "-" {
			return true
		}
	}
	return false
}

// formatSize prints a byte count in binary units.
func formatSize(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// orDash prints "-" for an empty string.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// disabled lists the lock flags that are off, such as "write,delete", or
// "-" when none is.
func disabled(p acr.Permissions) string {
	var off []string
	if !p.CanWrite {
		off = append(off, "write")
	}
	if !p.CanDelete {
		off = append(off, "delete")
	}
	if !p.CanRead {
		off = append(off, "read")
	}
	if !p.CanList {
		off = append(off, "list")
	}
	if len(off) == 0 {
		return "-"
	}
	return strings.Join(off, ",")
}

// permissionsJSON is the lock flags in JSON, named as ACR and the
// --*-enabled flags name them.
type permissionsJSON struct {
	DeleteEnabled bool `json:"deleteEnabled"`
	WriteEnabled  bool `json:"writeEnabled"`
	ListEnabled   bool `json:"listEnabled"`
	ReadEnabled   bool `json:"readEnabled"`
}

func toPermissionsJSON(p acr.Permissions) permissionsJSON {
	return permissionsJSON{DeleteEnabled: p.CanDelete, WriteEnabled: p.CanWrite, ListEnabled: p.CanList, ReadEnabled: p.CanRead}
}

// writePermissions adds the lock flag rows to a key/value table.
func writePermissions(tw io.Writer, p acr.Permissions) {
	fmt.Fprintf(tw, "Delete enabled:\t%t\n", p.CanDelete)
	fmt.Fprintf(tw, "Write enabled:\t%t\n", p.CanWrite)
	fmt.Fprintf(tw, "List enabled:\t%t\n", p.CanList)
	fmt.Fprintf(tw, "Read enabled:\t%t\n", p.CanRead)
}

// optBool is a boolean flag that takes its value as an argument
// (--write-enabled false), as az acr's flags do, and remembers whether it
// was set.
type optBool struct{ v *bool }

func (b *optBool) String() string {
	if b.v == nil {
		return ""
	}
	return strconv.FormatBool(*b.v)
}

func (b *optBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("want true or false")
	}
	b.v = &v
	return nil
}

func (b *optBool) Type() string { return "true|false" }

// lockFlags are the flags that change lock flags.
type lockFlags struct {
	deleteEnabled, writeEnabled, listEnabled, readEnabled optBool
	lock, unlock                                          bool
}

func (l *lockFlags) addFlags(cmd *cobra.Command, what string) {
	fs := cmd.Flags()
	fs.Var(&l.deleteEnabled, "delete-enabled", "whether the "+what+" may be deleted")
	fs.Var(&l.writeEnabled, "write-enabled", "whether the "+what+" may be overwritten, moved or deleted")
	fs.Var(&l.listEnabled, "list-enabled", "whether the "+what+" shows in listings")
	fs.Var(&l.readEnabled, "read-enabled", "whether the "+what+" may be pulled")
	fs.BoolVar(&l.lock, "lock", false, "shorthand for --write-enabled false --delete-enabled false")
	fs.BoolVar(&l.unlock, "unlock", false, "shorthand for --write-enabled true --delete-enabled true")
	cmd.MarkFlagsMutuallyExclusive("lock", "unlock")
	cmd.MarkFlagsMutuallyExclusive("lock", "write-enabled")
	cmd.MarkFlagsMutuallyExclusive("lock", "delete-enabled")
	cmd.MarkFlagsMutuallyExclusive("unlock", "write-enabled")
	cmd.MarkFlagsMutuallyExclusive("unlock", "delete-enabled")
	for _, f := range []string{"delete-enabled", "write-enabled", "list-enabled", "read-enabled"} {
		cmd.RegisterFlagCompletionFunc(f, cobra.FixedCompletions([]string{"true", "false"}, cobra.ShellCompDirectiveNoFileComp))
	}
}

// update returns the requested change, or a usage error when none is.
func (l *lockFlags) update() (acr.PermissionsUpdate, error) {
	u := acr.PermissionsUpdate{CanDelete: l.deleteEnabled.v, CanWrite: l.writeEnabled.v, CanList: l.listEnabled.v, CanRead: l.readEnabled.v}
	switch {
	case l.lock:
		u.CanWrite, u.CanDelete = ptr(false), ptr(false)
	case l.unlock:
		u.CanWrite, u.CanDelete = ptr(true), ptr(true)
	}
	if u.CanDelete == nil && u.CanWrite == nil && u.CanList == nil && u.CanRead == nil {
		return u, usageError{errNothingToUpdate}
	}
	return u, nil
}

func ptr[T any](v T) *T { return &v }

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

var _ pflag.Value = (*optBool)(nil)
var _ pflag.Value = (*outputFormat)(nil)
