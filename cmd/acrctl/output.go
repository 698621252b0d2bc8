package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/acrgo/acr"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// outputFormat is the -o/--output flag: the format of what a command
// prints, as in az (-o json). One meaning in every acrctl command; files and
// directories are named by --output-file and --output-dir.
type outputFormat struct {
	v     string
	names bool   // the command accepts -o name
	hint  string // added to the error for a value that is no format
}

func (o *outputFormat) String() string {
	if o.v == "" {
		return "text"
	}
	return o.v
}

func (o *outputFormat) Set(s string) error {
	switch {
	case s == "text", s == "json", s == "name" && o.names:
		o.v = s
		return nil
	}
	want := "want text or json"
	if o.names {
		want = "want text, json or name"
	}
	if o.hint != "" {
		want += "; " + o.hint
	}
	switch s {
	case "tsv", "table", "yaml", "yamlc", "jsonc", "none":
		// az's other formats, for scripts moving from az acr.
		want += "; az's -o " + s + " is not acrctl's: -o json | jq -r picks fields"
		if o.names {
			want += ", -o name prints one name per line"
		}
	}
	return errors.New(want)
}

func (o *outputFormat) Type() string { return "format" }

func (o *outputFormat) json() bool { return o.v == "json" }

// namesOnly reports -o name: one name per line, nothing else.
func (o *outputFormat) namesOnly() bool { return o.v == "name" }

// outputUsage is the help text of -o/--output.
const outputUsage = "output format: text (for people) or json (one document, ACR's field names)"

// addOutputFlag registers -o/--output on cmd.
func addOutputFlag(cmd *cobra.Command, o *outputFormat) {
	values := []string{"text", "json"}
	usage := outputUsage
	if o.names {
		values = append(values, "name")
		usage = "output format: text (for people), json (one document, ACR's field names) or name (one name per line, for scripts)"
	}
	cmd.Flags().VarP(o, "output", "o", usage)
	cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
}

// addNamesOutputFlag registers -o/--output with the name format, for
// listings of names (tags, repositories).
func addNamesOutputFlag(cmd *cobra.Command, o *outputFormat) {
	o.names = true
	addOutputFlag(cmd, o)
}

// writeJSON writes v as one indented JSON document.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// jsonList writes one indented JSON document of string fields and a
// list, {"registry": ..., "imageName": ..., "tags": [...]}, byte for byte as
// writeJSON writes the same struct, but item by item as a listing yields
// them, so that a listing of any length is never held whole. A listing that
// fails part way leaves the document unfinished, and the command exits
// with the error.
type jsonList struct {
	w        *bufio.Writer
	item     bytes.Buffer
	enc      *json.Encoder
	indented []byte
	n        int
	err      error
}

// newJSONList starts the document: fields are key and value pairs, written
// in order before the list, which is named key.
func newJSONList(w io.Writer, key string, fields ...string) *jsonList {
	l := &jsonList{w: bufio.NewWriterSize(w, 64<<10)}
	l.enc = json.NewEncoder(&l.item)
	l.enc.SetEscapeHTML(false)
	l.w.WriteString("{\n")
	for i := 0; i+1 < len(fields); i += 2 {
		l.w.WriteString("  ")
		l.encode(fields[i])
		l.w.WriteString(": ")
		l.encode(fields[i+1])
		l.w.WriteString(",\n")
	}
	l.w.WriteString("  ")
	l.encode(key)
	l.w.WriteString(": [")
	return l
}

// encode writes v as compact JSON, without the encoder's newline.
func (l *jsonList) encode(v any) {
	l.w.Write(l.compact(v))
}

// compact returns v as compact JSON, valid until the next call.
func (l *jsonList) compact(v any) []byte {
	l.item.Reset()
	if err := l.enc.Encode(v); err != nil && l.err == nil {
		l.err = err
	}
	return bytes.TrimSuffix(l.item.Bytes(), []byte{'\n'})
}

// add writes the list's next item, indented as writeJSON indents it.
// Encoding it compact and indenting it in one pass here costs about a
// third of what the encoder's own indenting does (its SetIndent scans
// the encoded item again with the general JSON scanner): 10,000 tags
// with -o json took 44 ms in process (BenchmarkTagList), 58% of it
// encoding.
func (l *jsonList) add(v any) {
	if l.n > 0 {
		l.w.WriteByte(',')
	}
	l.w.WriteString("\n    ")
	l.indented = indentJSON(l.indented[:0], l.compact(v), "    ", "  ")
	l.w.Write(l.indented)
	l.n++
}

// indentJSON appends src, compact JSON as encoding/json writes it (no
// whitespace outside strings), to dst indented as json.Indent indents it
// with prefix and indent: every element of an object or array on a line
// of its own, empty ones kept as {} and [].
func indentJSON(dst, src []byte, prefix, indent string) []byte {
	depth := 0
	newline := func() {
		dst = append(dst, '\n')
		dst = append(dst, prefix...)
		for range depth {
			dst = append(dst, indent...)
		}
	}
	for i := 0; i < len(src); i++ {
		switch c := src[i]; c {
		case '"':
			// Copy the string through its closing quote; a backslash
			// escapes the byte after it.
			j := i + 1
			for j < len(src) && src[j] != '"' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j, len(src)-1)
			dst = append(dst, src[i:j+1]...)
			i = j
		case '{', '[':
			dst = append(dst, c)
			if i+1 < len(src) && (src[i+1] == '}' || src[i+1] == ']') {
				dst = append(dst, src[i+1])
				i++
				continue
			}
			depth++
			newline()
		case '}', ']':
			depth--
			newline()
			dst = append(dst, c)
		case ',':
			dst = append(dst, c)
			newline()
		case ':':
			dst = append(dst, ':', ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// end finishes the document and flushes it.
func (l *jsonList) end() error {
	if l.n > 0 {
		l.w.WriteString("\n  ")
	}
	l.w.WriteString("]\n}\n")
	if err := l.w.Flush(); err != nil {
		return err
	}
	return l.err
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

// printable returns s for a line of text output, with every character that
// is not graphic written as a Go escape: control characters (ESC as \x1b,
// newline as \n, carriage return, tab, DEL and C1), format characters
// such as the bidirectional overrides (\u202e) and bytes that are not
// UTF-8 (\xff). Names, media types, annotations and error texts come from
// the registry, and a hostile one could otherwise move the cursor, retitle
// or clear the terminal, or add lines to what a script reads line by line
// (-o name | xargs). Every text output prints registry strings through it
// (or appendPrintable); JSON output needs nothing, since encoding/json
// escapes control characters itself. Valid names, digests and media types
// are printable ASCII and come back unchanged, without allocating.
func printable(s string) string {
	if i := printableASCII(s); i < len(s) {
		return string(appendEscaped(make([]byte, 0, len(s)+8), s, i))
	}
	return s
}

// appendPrintable appends printable(s) to dst.
func appendPrintable(dst []byte, s string) []byte {
	if i := printableASCII(s); i < len(s) {
		return appendEscaped(dst, s, i)
	}
	return append(dst, s...)
}

// printableASCII returns the index of the first byte of s that is not
// printable ASCII (0x20-0x7e), or len(s), testing eight bytes at a time: a
// listing prints a digest and a name for each of thousands of rows.
func printableASCII(s string) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		v := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		// A high bit for a byte under 0x20, and for one over 0x7e.
		if ((v-0x20*ones)&^v|(v+ones)|v)&highs != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			return i
		}
	}
	return i
}

// appendEscaped appends s to dst, escaping from byte i on, where the first
// byte that is not printable ASCII is.
func appendEscaped(dst []byte, s string, i int) []byte {
	dst = append(dst, s[:i]...)
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\x`...)
			dst = append(dst, "0123456789abcdef"[s[i]>>4], "0123456789abcdef"[s[i]&15])
		case unicode.IsGraphic(r):
			dst = append(dst, s[i:i+size]...)
		default:
			// QuoteRune's escape without its quotes: \x1b, \n, \u202e.
			q := strconv.QuoteRuneToASCII(r)
			dst = append(dst, q[1:len(q)-1]...)
		}
		i += size
	}
	return dst
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

// formatSize prints a byte count in binary units.
// formatSizeBytes is formatSize with the exact count beside sizes of a KiB
// or more: "1.5 MiB (1572864 bytes)".
func formatSizeBytes(n int64) string {
	if n < 1024 {
		return formatSize(n)
	}
	return fmt.Sprintf("%s (%d bytes)", formatSize(n), n)
}

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
func disabled(p acr.Permissions) string { return string(appendDisabled(nil, p)) }

// appendDisabled appends disabled(p) to b.
func appendDisabled(b []byte, p acr.Permissions) []byte {
	n := len(b)
	for _, f := range []struct {
		on   bool
		name string
	}{{p.CanWrite, "write"}, {p.CanDelete, "delete"}, {p.CanRead, "read"}, {p.CanList, "list"}} {
		if f.on {
			continue
		}
		if len(b) > n {
			b = append(b, ',')
		}
		b = append(b, f.name...)
	}
	if len(b) == n {
		b = append(b, '-')
	}
	return b
}

// permissionsJSON is the lock flags in JSON, as ACR's /acr/v1 API (and so
// az acr) names them: the object changeableAttributes.
type permissionsJSON struct {
	DeleteEnabled bool `json:"deleteEnabled"`
	WriteEnabled  bool `json:"writeEnabled"`
	ReadEnabled   bool `json:"readEnabled"`
	ListEnabled   bool `json:"listEnabled"`
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

// stdinIsTerminal decides whether a deletion may ask for confirmation;
// tests replace it to answer the question.
var stdinIsTerminal = isTerminal

// confirm lets a deletion that takes more than the user named go ahead:
// with --yes, or when the user answers y on a terminal. Without a terminal
// (or when stdin carries the password) it is a usage error naming --yes, so
// that a script never deletes more than it said by accident.
func confirm(cmd *cobra.Command, o *remoteOptions, yes bool, what string) error {
	if yes {
		return nil
	}
	if !stdinIsTerminal(cmd.InOrStdin()) || o.passwordStdin {
		return usageError{fmt.Errorf("deleting %s: pass --yes to confirm", what)}
	}
	// what names tags the registry listed: a hostile name must not
	// rewrite the question.
	fmt.Fprintf(cmd.ErrOrStderr(), "Delete %s? [y/N] ", printable(what))
	end := beginPrompt(-1)
	line, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	end()
	if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
		return errors.New("not confirmed; nothing deleted")
	}
	return nil
}

// addYesFlag registers -y/--yes.
func addYesFlag(cmd *cobra.Command, yes *bool) {
	cmd.Flags().BoolVarP(yes, "yes", "y", false, "delete without asking (needed when stdin is not a terminal)")
}

// lockOp is what a lock refused.
type lockOp int

const (
	lockDelete lockOp = iota // delete: refused by writeEnabled or deleteEnabled false
	lockWrite                // push, overwrite or move: writeEnabled false
	lockRead                 // pull: readEnabled false
)

func (op lockOp) verb() string {
	switch op {
	case lockDelete:
		return "delete"
	case lockWrite:
		return "write"
	}
	return "read"
}

// lockedObject is one object whose lock flags may refuse an operation.
type lockedObject struct {
	kind, name string // "repo", "tag" or "manifest"; its reference
	perms      acr.Permissions
}

// lift returns the flags off that refuse op on the object, by their JSON
// name, and the acrctl command that lifts them; "" when none does.
func (l lockedObject) lift(op lockOp) (flags, command string) {
	p := l.perms
	var off, args []string
	switch op {
	case lockDelete:
		if !p.CanWrite {
			off = append(off, "writeEnabled")
		}
		if !p.CanDelete {
			off = append(off, "deleteEnabled")
		}
		switch len(off) {
		case 2:
			args = []string{"--unlock"}
		case 1:
			args = []string{"--" + map[string]string{"writeEnabled": "write-enabled", "deleteEnabled": "delete-enabled"}[off[0]], "true"}
		}
	case lockWrite:
		if !p.CanWrite {
			off, args = []string{"writeEnabled"}, []string{"--write-enabled", "true"}
		}
	case lockRead:
		if !p.CanRead {
			off, args = []string{"readEnabled"}, []string{"--read-enabled", "true"}
		}
	}
	if len(off) == 0 {
		return "", ""
	}
	return strings.Join(off, " and "), "acrctl " + l.kind + " update " + l.name + " " + strings.Join(args, " ")
}

// lockRefusal explains err, a refusal by a lock flag (acr.ErrLocked), of op
// on ref. It reads the lock flags of the repository, the tag and the
// manifest (and, for a delete, of the manifest's other tags, which go with
// it), and names each flag that is off with the exact command that lifts
// it. When the flags cannot be read, the fix names the commands to try.
func lockRefusal(ctx context.Context, s *session, ref acr.Reference, op lockOp, err error) error {
	named := ref.String()
	repo := ref.Registry + "/" + ref.Repository
	var objs []lockedObject
	if ref.Tag != "" {
		if t, err := s.client.GetTagProperties(ctx, ref.Repository, ref.Tag); err == nil {
			objs = append(objs, lockedObject{"tag", repo + ":" + t.Name, t.Permissions})
			if ref.Digest == "" {
				ref.Digest = t.Digest
			}
		}
	}
	if ref.Digest != "" {
		if m, err := s.client.GetManifestProperties(ctx, ref.Repository, ref.Digest.String()); err == nil {
			objs = append(objs, lockedObject{"manifest", repo + "@" + m.Digest.String(), m.Permissions})
			if op == lockDelete {
				for _, name := range m.Tags {
					if name == ref.Tag {
						continue
					}
					if t, err := s.client.GetTagProperties(ctx, ref.Repository, name); err == nil {
						objs = append(objs, lockedObject{"tag", repo + ":" + name, t.Permissions})
					}
				}
			}
		}
	}
	if p, err := s.client.GetRepositoryProperties(ctx, ref.Repository); err == nil {
		objs = append(objs, lockedObject{"repo", repo, p.Permissions})
	}
	var why, fixes []string
	for _, o := range objs {
		if flags, command := o.lift(op); command != "" {
			verb := " is false on "
			if strings.Contains(flags, " and ") {
				verb = " are false on "
			}
			why = append(why, flags+verb+map[string]string{"repo": "the repository", "tag": "the tag", "manifest": "the manifest"}[o.kind]+" "+o.name)
			fixes = append(fixes, command)
		}
	}
	if len(fixes) == 0 {
		// The flags could not be read, or changed since.
		fix := "acrctl repo update " + repo + " --unlock"
		if ref.Tag != "" {
			fix = "acrctl tag update " + repo + ":" + ref.Tag + " --unlock, or " + fix
		} else if ref.Digest != "" {
			fix = "acrctl manifest update " + repo + "@" + ref.Digest.String() + " --unlock, or " + fix
		}
		if op == lockRead {
			fix = strings.ReplaceAll(fix, "--unlock", "--read-enabled true")
		}
		return fmt.Errorf("%s is locked, so the registry refused to %s it: %s; fix: %s", named, op.verb(), registrySaid(err, false), fix)
	}
	// The flags say it all; the registry's own words (on the local
	// registry, a generic hint) would only repeat them.
	said := "ErrLocked"
	var re *acr.ResponseError
	if errors.As(err, &re) {
		said = strconv.Itoa(re.StatusCode)
		if len(re.Errors) > 0 {
			said += " " + re.Errors[0].Code
		}
	}
	return fmt.Errorf("%s is locked: %s, so the registry refused to %s it (%s); fix: %s", named, strings.Join(why, ", "), op.verb(), said, strings.Join(fixes, ", then "))
}
