package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"time"
	"unicode/utf8"

	"github.com/acrgo/acr"
	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"
)

func newTagCmd() *cobra.Command {
	o := &remoteOptions{}
	cmd := newGroup("tag", "List, show, lock and delete tags", o)
	cmd.AddCommand(newTagListCmd(o), newTagShowCmd(o), newTagUpdateCmd(o), newTagDeleteCmd(o), newTagListDeletedCmd(o))
	return cmd
}

// orderFlag is --order: time-desc or time-asc.
type orderFlag acr.Order

func (f *orderFlag) String() string {
	switch acr.Order(*f) {
	case acr.OrderLastUpdatedDesc:
		return "time-desc"
	case acr.OrderLastUpdatedAsc:
		return "time-asc"
	}
	return ""
}

func (f *orderFlag) Set(s string) error {
	switch s {
	case "time-desc":
		*f = orderFlag(acr.OrderLastUpdatedDesc)
	case "time-asc":
		*f = orderFlag(acr.OrderLastUpdatedAsc)
	default:
		return errors.New("want time-desc (newest first) or time-asc (oldest first)")
	}
	return nil
}

func (f *orderFlag) Type() string { return "time-desc|time-asc" }

func addOrderFlag(cmd *cobra.Command, f *orderFlag, what string) {
	cmd.Flags().Var(f, "order", "sort by last update: time-desc (newest first) or time-asc; default: by "+what)
	cmd.RegisterFlagCompletionFunc("order", cobra.FixedCompletions([]string{"time-desc\tnewest first", "time-asc\toldest first"}, cobra.ShellCompDirectiveNoFileComp))
}

// pagingFlags are --top, --page-size and --last of the listing commands.
type pagingFlags struct {
	top      int
	pageSize int
	last     string
}

func addPagingFlags(cmd *cobra.Command, f *pagingFlags, what string) {
	cmd.Flags().IntVar(&f.top, "top", 0, "list at most N items, as az's --top (after --order); default: all")
	cmd.Flags().IntVar(&f.pageSize, "page-size", 0, "items asked per request; default 1,000, the most ACR answers")
	cmd.Flags().StringVar(&f.last, "last", "", "list from after this "+what+": resumes a listing that stopped at it")
}

func (f *pagingFlags) check() error {
	if f.top < 0 {
		return usageError{fmt.Errorf("--top %d: want a number of items, 1 or more (default: all)", f.top)}
	}
	if f.pageSize < 0 {
		return usageError{fmt.Errorf("--page-size %d: want a number of items, 1 or more (default 1,000)", f.pageSize)}
	}
	return nil
}

// size is the page size to ask for: --page-size, or with --top alone no
// more than --top items, so that --top 1 reads one item, not a page of
// 1,000 (0 is the library's default).
func (f *pagingFlags) size() int {
	if f.pageSize == 0 && f.top > 0 && f.top < 1000 {
		return f.top
	}
	return f.pageSize
}

// readAhead says whether to ask for each page while the one before is
// decoded: not when --top ends the listing within the first page.
func (f *pagingFlags) readAhead() bool {
	return f.top == 0 || f.size() == 0 || f.top > f.size()
}

// limit yields at most --top items of seq (all without --top); it stops
// ranging over seq after the last, so that no further page is asked for.
func limit[T any](seq iter.Seq2[T, error], f *pagingFlags) iter.Seq2[T, error] {
	if f.top == 0 {
		return seq
	}
	return func(yield func(T, error) bool) {
		n := 0
		for v, err := range seq {
			if !yield(v, err) || err != nil {
				return
			}
			if n++; n == f.top {
				return
			}
		}
	}
}

// tagJSON is a tag in --output json, with the field names of ACR's
// /acr/v1 API, which az acr repository show and show-tags --detail print as
// is. Registry and imageName are set by tag show and tag update only: tag
// list gives them once, beside the tags, as the API does.
type tagJSON struct {
	Registry       string    `json:"registry,omitempty"`
	ImageName      string    `json:"imageName,omitempty"`
	Name           string    `json:"name"`
	Digest         string    `json:"digest,omitempty"`
	CreatedTime    time.Time `json:"createdTime,omitzero"`
	LastUpdateTime time.Time `json:"lastUpdateTime,omitzero"`
	// ChangeableAttributes is left out where the registry has no lock
	// flags (a registry without /acr/v1 lists tag names only).
	ChangeableAttributes *permissionsJSON `json:"changeableAttributes,omitempty"`
}

func toTagJSON(t acr.TagProperties) tagJSON {
	j := tagJSON{Registry: t.Registry, ImageName: t.Repository, Name: t.Name, Digest: t.Digest.String(), CreatedTime: t.CreatedOn,
		LastUpdateTime: t.LastUpdatedOn}
	if t.Digest != "" || !t.LastUpdatedOn.IsZero() {
		p := toPermissionsJSON(t.Permissions)
		j.ChangeableAttributes = &p
	}
	return j
}

func newTagListCmd(o *remoteOptions) *cobra.Command {
	var out outputFormat
	var order orderFlag
	var digestFilter string
	var paging pagingFlags
	cmd := &cobra.Command{
		Use:   "list HOST/REPO [--order time-desc|time-asc] [--digest D] [--top N] [--page-size N] [--last TAG] [-o text|json|name]",
		Short: "List the tags of a repository with their digests, times and locks",
		Long: `List the tags of a repository. On ACR (and the local registry) each tag comes with the
digest it points at, its last update and the lock flags that are off (DISABLED, - when
none is); --order sorts by last update and --digest keeps the tags of one manifest. On
other registries only names are listed, in name order. -o name prints one tag name per
line, as crane ls and oras repo tags do; -o json prints ACR's fields (az acr repository
show-tags --detail). -o name without --order or --digest reads the OCI tag list, which
carries names only: the fastest listing. --top N stops after N tags (az's --top: with
--order time-desc, the newest N). --last resumes a listing after a tag.`,
		Example: `  acrctl tag list myregistry.azurecr.io/library/hello-world --order time-desc
  acrctl tag list localhost:5000/hello --order time-desc --top 1 -o name   # the newest tag
  acrctl tag list localhost:5000/hello --digest sha256:4c5e...
  acrctl tag list localhost:5000/hello -o name | xargs -I{} echo localhost:5000/hello:{}
  acrctl tag list localhost:5000/hello -o json | jq -r '.tags[].name'`,
		Aliases:           []string{"ls"},
		Args:              exactArgs(1, "a repository HOST/REPO"),
		ValidArgsFunction: completeRefs(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := parseRef(args[0], refRepo)
			if err != nil {
				return err
			}
			d, err := parseDigest("--digest", digestFilter)
			if err != nil {
				return err
			}
			if err := paging.check(); err != nil {
				return err
			}
			s, err := o.connectRef(cmd, ref)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if out.namesOnly() && acr.Order(order) == acr.OrderNone && d == "" {
				// Names only: the OCI tag list, without digests, times
				// and locks to send and decode.
				bw := bufio.NewWriter(w)
				names := s.client.TagNames(cmd.Context(), ref.Repository, &acr.ListOptions{PageSize: paging.size(), Last: paging.last, ReadAhead: paging.readAhead()})
				for name, err := range limit(names, &paging) {
					if err != nil {
						return s.explain(err)
					}
					bw.WriteString(printable(name))
					bw.WriteByte('\n')
				}
				return bw.Flush()
			}
			explain := func(err error) error {
				if errors.Is(err, acr.ErrNotSupported) {
					return fmt.Errorf("%w; fix: leave out --order and --digest: acrctl tag list %s then lists the tags by name", err, ref)
				}
				return s.explain(err)
			}
			// tag list reads every page: each is requested while the one
			// before is decoded.
			list := limit(s.client.Tags(cmd.Context(), ref.Repository, &acr.TagsOptions{Order: acr.Order(order), Digest: d,
				PageSize: paging.size(), Last: paging.last, ReadAhead: paging.readAhead()}), &paging)
			if !out.json() && !out.namesOnly() {
				table := newTagTable()
				for t, err := range list {
					if err != nil {
						return explain(err)
					}
					table.add(t)
				}
				if table.len() == 0 {
					if d != "" {
						fmt.Fprintf(cmd.ErrOrStderr(), "%s has no tags pointing at %s\n", ref, d)
					} else {
						fmt.Fprintf(cmd.ErrOrStderr(), "%s has no tags\n", ref)
					}
					return nil
				}
				// The columns are the same whatever the tags' locks, so
				// that scripts reading them by position keep working.
				return table.write(w)
			}
			// JSON and names are written as the tags arrive, never held
			// whole.
			if out.json() {
				l := newJSONList(w, "tags", "registry", ref.Registry, "imageName", ref.Repository)
				for t, err := range list {
					if err != nil {
						return explain(err)
					}
					j := toTagJSON(t)
					j.Registry, j.ImageName = "", ""
					l.add(j)
				}
				return l.end()
			}
			bw := bufio.NewWriter(w)
			for t, err := range list {
				if err != nil {
					return explain(err)
				}
				bw.WriteString(printable(t.Name))
				bw.WriteByte('\n')
			}
			return bw.Flush()
		},
	}
	addOrderFlag(cmd, &order, "name")
	cmd.Flags().StringVar(&digestFilter, "digest", "", "list only the tags that point at this manifest digest")
	addPagingFlags(cmd, &paging, "tag")
	addNamesOutputFlag(cmd, &out)
	return cmd
}

func printTag(cmd *cobra.Command, out *outputFormat, t acr.TagProperties) error {
	w := cmd.OutOrStdout()
	if out.json() {
		return writeJSON(w, toTagJSON(t))
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "Registry:\t%s\n", printable(t.Registry))
	fmt.Fprintf(tw, "Repository:\t%s\n", printable(t.Repository))
	fmt.Fprintf(tw, "Tag:\t%s\n", printable(t.Name))
	fmt.Fprintf(tw, "Digest:\t%s\n", printable(orDash(t.Digest.String())))
	fmt.Fprintf(tw, "Created:\t%s\n", formatTime(t.CreatedOn))
	fmt.Fprintf(tw, "Last updated:\t%s\n", formatTime(t.LastUpdatedOn))
	writePermissions(tw, t.Permissions)
	return tw.Flush()
}

func newTagShowCmd(o *remoteOptions) *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:   "show HOST/REPO:TAG",
		Short: "Show a tag's properties: digest, times and lock flags (ACR)",
		Long: `Show the digest a tag points at, with the times and lock flags ACR keeps about it. On a
registry without ACR's /acr/v1 API only the digest is known (as crane digest and oras
resolve print it); a note on stderr says so.`,
		Example: `  acrctl tag show myregistry.azurecr.io/library/hello-world:latest
  acrctl tag show localhost:5000/hello:v1 -o json | jq -r .digest`,
		Args:              exactArgs(1, "a tag HOST/REPO:TAG"),
		ValidArgsFunction: completeRefs(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := parseRef(args[0], refTag)
			if err != nil {
				return err
			}
			s, err := o.connectRef(cmd, ref)
			if err != nil {
				return err
			}
			t, err := s.client.GetTagProperties(cmd.Context(), ref.Repository, ref.Tag)
			if errors.Is(err, acr.ErrNotSupported) {
				// No ACR metadata: the digest is what the OCI API tells.
				d, err := s.client.ResolveDigest(cmd.Context(), ref.Repository, ref.Tag)
				if err != nil {
					return s.explain(err)
				}
				noMetadata(cmd, ref.Registry, "times and lock flags")
				if out.json() {
					return writeJSON(cmd.OutOrStdout(), tagJSON{Registry: ref.Registry, ImageName: ref.Repository, Name: ref.Tag, Digest: d.String()})
				}
				tw := newTable(cmd.OutOrStdout())
				fmt.Fprintf(tw, "Registry:\t%s\n", ref.Registry)
				fmt.Fprintf(tw, "Repository:\t%s\n", ref.Repository)
				fmt.Fprintf(tw, "Tag:\t%s\n", ref.Tag)
				fmt.Fprintf(tw, "Digest:\t%s\n", printable(d.String()))
				return tw.Flush()
			}
			if err != nil {
				return s.explain(err)
			}
			return printTag(cmd, &out, t)
		},
	}
	addOutputFlag(cmd, &out)
	return cmd
}

func newTagUpdateCmd(o *remoteOptions) *cobra.Command {
	var out outputFormat
	var locks lockFlags
	cmd := &cobra.Command{
		Use:   "update HOST/REPO:TAG [--delete-enabled B] [--write-enabled B] [--list-enabled B] [--read-enabled B]",
		Short: "Change a tag's lock flags (ACR)",
		Long: `Change a tag's lock flags: --write-enabled false refuses moving, overwriting and deleting
the tag; --delete-enabled false refuses deleting it; --read-enabled false refuses pulling
it; --list-enabled false hides it from listings. --lock sets write and delete off,
--unlock on. Prints the new properties.`,
		Example: `  acrctl tag update myregistry.azurecr.io/library/hello-world:latest --lock
  acrctl tag update localhost:5000/hello:v1 --write-enabled false --delete-enabled false
  acrctl tag update localhost:5000/hello:v1 --unlock`,
		Args:              exactArgs(1, "a tag HOST/REPO:TAG"),
		ValidArgsFunction: completeRefs(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := parseRef(args[0], refTag)
			if err != nil {
				return err
			}
			u, err := locks.update()
			if err != nil {
				return err
			}
			s, err := o.connectRef(cmd, ref)
			if err != nil {
				return err
			}
			t, err := s.client.UpdateTagProperties(cmd.Context(), ref.Repository, ref.Tag, u)
			if err != nil {
				return s.explain(err)
			}
			return printTag(cmd, &out, t)
		},
	}
	locks.addFlags(cmd, "tag")
	addOutputFlag(cmd, &out)
	return cmd
}

func newTagDeleteCmd(o *remoteOptions) *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:   "delete HOST/REPO:TAG",
		Short: "Delete a tag; the manifest it points at stays",
		Long: `Delete a tag. The manifest it points at stays, reachable by digest and by its other
tags; delete it with 'acrctl manifest delete'. A locked tag is refused, and the error
names the lock flag that refused and the command that lifts it.`,
		Example: `  acrctl tag delete myregistry.azurecr.io/library/hello-world:old
  acrctl tag delete localhost:5000/hello:v1 -o json`,
		Aliases:           []string{"rm"},
		Args:              exactArgs(1, "a tag HOST/REPO:TAG"),
		ValidArgsFunction: completeRefs(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := parseRef(args[0], refTag)
			if err != nil {
				return err
			}
			s, err := o.connectRef(cmd, ref)
			if err != nil {
				return err
			}
			if err := s.client.DeleteTag(cmd.Context(), ref.Repository, ref.Tag); err != nil {
				if errors.Is(err, acr.ErrLocked) {
					return lockRefusal(cmd.Context(), s, ref, lockDelete, err)
				}
				return s.explain(err)
			}
			if out.json() {
				return writeJSON(cmd.OutOrStdout(), struct {
					Registry    string   `json:"registry"`
					ImageName   string   `json:"imageName"`
					TagsDeleted []string `json:"tagsDeleted"`
				}{ref.Registry, ref.Repository, []string{ref.Tag}})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Deleted tag %s\n", ref)
			return nil
		},
	}
	addOutputFlag(cmd, &out)
	return cmd
}

// tagTable holds tag list's rows until the widest cell of each column is
// known. The rows are kept back to back, compactly (a sha256 digest as its
// 32 bytes, a time as its Unix seconds, the locks as bits), in chunks that
// are filled and never copied: a listing of 10,000 tags kept as
// []acr.TagProperties spent a sixth of its client time growing that slice
// and collecting its garbage, and every byte kept is memory the new process
// has to fault in (a growing buffer of the rows as text took 5 MB for a
// table of 1 MB; the chunks hold 0.5 MB).
type tagTable struct {
	chunks [][]byte
	rows   int
	width  [3]int // of the first three columns, in runes
}

// tagChunk is the size of a tagTable chunk: about 1,300 rows of short tag
// names with sha256 digests.
const tagChunk = 64 << 10

// How a tagTable row holds its digest and time: as text (a uvarint length
// and the bytes), or packed.
const (
	cellText   = 0
	cellSHA256 = 1 // the digest's 32 bytes
	cellUnix   = 1 // the time's Unix seconds, 8 bytes little-endian
)

var tagHeader = [4]string{"TAG", "DIGEST", "LAST UPDATED (UTC)", "DISABLED"}

func newTagTable() *tagTable {
	t := &tagTable{}
	for i := range t.width {
		t.width[i] = len(tagHeader[i])
	}
	return t
}

// add appends a tag's row.
func (t *tagTable) add(tp acr.TagProperties) {
	need := 3*binary.MaxVarintLen64 + len(tp.Name) + len(tp.Digest) + 32
	if len(t.chunks) == 0 || cap(t.chunks[len(t.chunks)-1])-len(t.chunks[len(t.chunks)-1]) < need {
		t.chunks = append(t.chunks, make([]byte, 0, max(tagChunk, need)))
	}
	c := t.chunks[len(t.chunks)-1]
	text := func(s string, col int) {
		s = printable(s)
		c = binary.AppendUvarint(c, uint64(len(s)))
		c = append(c, s...)
		t.width[col] = max(t.width[col], utf8.RuneCountInString(s))
	}
	text(tp.Name, 0)
	if raw, ok := sha256Bytes(tp.Digest); ok {
		c = append(c, cellSHA256)
		c = append(c, raw[:]...)
		t.width[1] = max(t.width[1], len("sha256:")+64)
	} else {
		c = append(c, cellText)
		text(orDash(tp.Digest.String()), 1)
	}
	// Years 0 to 9999 print in time.DateTime's 19 characters.
	const year0, year10000 = -62167219200, 253402300800
	if u := tp.LastUpdatedOn.Unix(); !tp.LastUpdatedOn.IsZero() && u >= year0 && u < year10000 {
		c = append(c, cellUnix)
		c = binary.LittleEndian.AppendUint64(c, uint64(u))
		t.width[2] = max(t.width[2], len(time.DateTime))
	} else {
		c = append(c, cellText)
		text(formatTableTime(tp.LastUpdatedOn), 2)
	}
	c = append(c, lockBits(tp.Permissions))
	t.chunks[len(t.chunks)-1] = c
	t.rows++
}

// sha256Bytes returns the 32 bytes of a sha256 digest written as digests
// are (lower-case hex), so that they print back the same.
func sha256Bytes(d digest.Digest) (raw [32]byte, ok bool) {
	s := string(d)
	if len(s) != len("sha256:")+64 || s[:len("sha256:")] != "sha256:" {
		return raw, false
	}
	h := s[len("sha256:"):]
	var bad byte
	for i := range raw {
		hi, lo := unhex[h[2*i]], unhex[h[2*i+1]]
		bad |= hi | lo
		raw[i] = hi<<4 | lo
	}
	return raw, bad < 16
}

// unhex maps lower-case hex digits to their values, and every other byte
// to 0xff.
var unhex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c - 'a' + 10)
	}
	return t
}()

// lockBits packs the lock flags, a bit set for each that is off, and
// unlockBits unpacks them.
func lockBits(p acr.Permissions) byte {
	var b byte
	for i, on := range []bool{p.CanWrite, p.CanDelete, p.CanRead, p.CanList} {
		if !on {
			b |= 1 << i
		}
	}
	return b
}

func unlockBits(b byte) acr.Permissions {
	return acr.Permissions{CanWrite: b&1 == 0, CanDelete: b&2 == 0, CanRead: b&4 == 0, CanList: b&8 == 0}
}

// len returns the number of rows.
func (t *tagTable) len() int { return t.rows }

// write prints the table aligned as newTable aligns columns (two spaces
// after the widest cell), row by row without tabwriter's cell buffering
// and fmt, which took a third of the client time of a 10,000-tag listing.
// The rows are printed after the last page arrives, so this is on the
// listing's critical path: digests are hex-encoded four bytes at a time and
// a day's date is formatted once for the rows that share it.
func (t *tagTable) write(w io.Writer) error {
	out := make([]byte, 0, 64<<10)
	// pad ends a cell n runes wide in column col.
	pad := func(n, col int) {
		for n < t.width[col]+2 {
			k := min(t.width[col]+2-n, len(spaces))
			out = append(out, spaces[:k]...)
			n += k
		}
	}
	for col, h := range tagHeader[:3] {
		out = append(out, h...)
		pad(len(h), col)
	}
	out = append(out, tagHeader[3]...)
	out = append(out, '\n')
	var dates tableDates
	for _, c := range t.chunks {
		// text appends a cell kept as text and returns its width.
		text := func() int {
			size, k := binary.Uvarint(c)
			v := c[k : k+int(size)]
			out = append(out, v...)
			c = c[k+int(size):]
			return utf8.RuneCount(v)
		}
		for len(c) > 0 {
			pad(text(), 0)
			if c[0] == cellSHA256 {
				out = append(out, "sha256:"...)
				out = appendHex(out, c[1:33])
				c = c[33:]
				pad(len("sha256:")+64, 1)
			} else {
				c = c[1:]
				pad(text(), 1)
			}
			if c[0] == cellUnix {
				out = dates.append(out, int64(binary.LittleEndian.Uint64(c[1:9])))
				c = c[9:]
				pad(len(time.DateTime), 2)
			} else {
				c = c[1:]
				pad(text(), 2)
			}
			if c[0] == 0 {
				out = append(out, '-') // no lock flag off
			} else {
				out = appendDisabled(out, unlockBits(c[0]))
			}
			c = c[1:]
			out = append(out, '\n')
			if len(out) >= 60<<10 {
				if _, err := w.Write(out); err != nil {
					return err
				}
				out = out[:0]
			}
		}
	}
	_, err := w.Write(out)
	return err
}

// appendHex appends the lower-case hex digits of raw to b, four bytes at a
// time: a digest's 64 digits are a third of the time of printing a row.
func appendHex(b, raw []byte) []byte {
	const ones = 0x0101010101010101
	for len(raw) >= 4 {
		// Spread the eight nibbles of four bytes into eight bytes, then
		// add '0', and 'a'-'0'-10 more to the nibbles above 9.
		x := uint64(binary.BigEndian.Uint32(raw))
		x = (x | x<<16) & 0x0000ffff0000ffff
		x = (x | x<<8) & 0x00ff00ff00ff00ff
		x = (x | x<<4) & 0x0f0f0f0f0f0f0f0f
		x += '0'*ones + ((x+6*ones)>>4&ones)*('a'-'0'-10)
		b = binary.BigEndian.AppendUint64(b, x)
		raw = raw[4:]
	}
	const digits = "0123456789abcdef"
	for _, v := range raw {
		b = append(b, digits[v>>4], digits[v&15])
	}
	return b
}

// tableDates formats Unix seconds of the years 0-9999 as appendTableTime
// does, keeping the date of the last day formatted: the rows of a listing
// mostly share their days.
type tableDates struct {
	day  int64
	date []byte // "2006-01-02 " of day, or empty
}

// append appends the time unix seconds after 1970-01-01 UTC, as
// "2006-01-02 15:04:05".
func (d *tableDates) append(b []byte, unix int64) []byte {
	day := unix / 86400
	if unix%86400 < 0 {
		day--
	}
	if len(d.date) == 0 || day != d.day {
		y, m, dd := time.Unix(day*86400, 0).UTC().Date()
		d.day = day
		d.date = append(appendDigits2(appendDigits2(d.date[:0], y/100), y%100), '-')
		d.date = append(appendDigits2(append(appendDigits2(d.date, int(m)), '-'), dd), ' ')
	}
	b = append(b, d.date...)
	s := int(unix - day*86400)
	b = append(appendDigits2(b, s/3600), ':')
	b = append(appendDigits2(b, s/60%60), ':')
	return appendDigits2(b, s%60)
}

// appendDigits2 appends n, from 0 to 99, as two digits.
func appendDigits2(b []byte, n int) []byte { return append(b, byte('0'+n/10), byte('0'+n%10)) }

const spaces = "                                                                "

// appendTableTime appends formatTableTime(t) to b, without AppendFormat's
// layout interpretation for the years 0-9999.
func appendTableTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, '-')
	}
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, time.DateTime)
	}
	hour, minute, sec := t.Clock()
	b = appendDigits2(appendDigits2(b, year/100), year%100)
	b = appendDigits2(append(b, '-'), int(month))
	b = appendDigits2(append(b, '-'), day)
	b = appendDigits2(append(b, ' '), hour)
	b = appendDigits2(append(b, ':'), minute)
	return appendDigits2(append(b, ':'), sec)
}
