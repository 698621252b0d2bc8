package acr_test

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// parityDoc is the table that maps every public member of the official .NET
// and Go SDKs to its equivalent here.
const parityDoc = "docs/sdk-parity.md"

// TestParityTable checks docs/sdk-parity.md against the code: every Go name
// the table gives as an equivalent exists (a function, type, method, field,
// constant or variable of the root package, or of a subpackage written as
// pkg.Name), every test or Example named as exercising it exists, and a row
// without an equivalent says why. Renaming or deleting an API without
// updating the table fails here.
func TestParityTable(t *testing.T) {
	rows := readParityRows(t)
	if len(rows) < 60 {
		t.Fatalf("%s has %d rows; the two SDKs have well over 60 public members", parityDoc, len(rows))
	}
	decls := map[string]map[string]bool{} // package dir -> exported names
	declsOf := func(dir string) map[string]bool {
		if d, ok := decls[dir]; ok {
			return d
		}
		decls[dir] = exportedNames(t, dir)
		return decls[dir]
	}
	tests := testNames(t)
	seen := map[string]bool{}
	sdks := map[string]int{}
	for _, r := range rows {
		key := r.sdk + " " + r.member
		if seen[key] {
			t.Errorf("%s:%d: %s is listed twice", parityDoc, r.line, key)
		}
		seen[key] = true
		sdks[r.sdk]++
		if why, ok := strings.CutPrefix(r.ours, "none:"); ok {
			if len(strings.TrimSpace(why)) < 10 {
				t.Errorf("%s:%d: %s has no Go equivalent and says too little why", parityDoc, r.line, key)
			}
			continue
		}
		names := backticked(r.ours)
		if len(names) == 0 {
			t.Errorf("%s:%d: %s names no Go equivalent (or write \"none: why\")", parityDoc, r.line, key)
			continue
		}
		for _, n := range names {
			dir, name := ".", n
			if pkg, rest, ok := strings.Cut(n, "."); ok && isLower(pkg) {
				if external[pkg] {
					continue
				}
				dir, name = pkg, rest
			}
			if !declsOf(dir)[name] {
				t.Errorf("%s:%d: %s names `%s`, which the code does not declare", parityDoc, r.line, key, n)
			}
		}
		ex := backticked(r.by)
		if len(ex) == 0 {
			t.Errorf("%s:%d: %s names no test or Example that exercises it", parityDoc, r.line, key)
		}
		for _, n := range ex {
			if !tests[n] {
				t.Errorf("%s:%d: %s is exercised by `%s`, which no test file declares", parityDoc, r.line, key, n)
			}
		}
	}
	for _, sdk := range []string{".NET", "Go"} {
		if sdks[sdk] == 0 {
			t.Errorf("%s has no %s rows", parityDoc, sdk)
		}
	}
}

type parityRow struct {
	line                  int
	sdk, member, ours, by string
}

// readParityRows returns the rows of every table in the document whose
// first column is an SDK name.
func readParityRows(t *testing.T) []parityRow {
	t.Helper()
	f, err := os.Open(parityDoc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []parityRow
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 4 {
			continue
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if cells[0] != ".NET" && cells[0] != "Go" {
			continue
		}
		rows = append(rows, parityRow{n, cells[0], cells[1], cells[2], cells[3]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// external are the packages of other modules that the API uses as they are
// (the OCI image spec's types and go-digest's), whose names the table may
// give without the test checking them.
var external = map[string]bool{"ocispec": true, "digest": true}

var backtickRE = regexp.MustCompile("`([^`]+)`")

func backticked(s string) []string {
	var out []string
	for _, m := range backtickRE.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

func isLower(s string) bool { return s != "" && s[0] >= 'a' && s[0] <= 'z' }

// exportedNames returns the exported declarations of the package in dir:
// functions, types, constants, variables, and Type.Method and Type.Field.
func exportedNames(t *testing.T, dir string) map[string]bool {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		addDecls(names, f)
	}
	return names
}

// addDecls adds the exported declarations of f to names.
func addDecls(names map[string]bool, f *ast.File) {
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil {
				names[d.Name.Name] = true
				continue
			}
			recv := d.Recv.List[0].Type
			if s, ok := recv.(*ast.StarExpr); ok {
				recv = s.X
			}
			if id, ok := recv.(*ast.Ident); ok {
				names[id.Name+"."+d.Name.Name] = true
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					names[s.Name.Name] = true
					if st, ok := s.Type.(*ast.StructType); ok {
						for _, fld := range st.Fields.List {
							for _, n := range fld.Names {
								names[s.Name.Name+"."+n.Name] = true
							}
						}
					}
					if it, ok := s.Type.(*ast.InterfaceType); ok {
						for _, m := range it.Methods.List {
							for _, n := range m.Names {
								names[s.Name.Name+"."+n.Name] = true
							}
						}
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						names[n.Name] = true
					}
				}
			}
		}
	}
}

// testNames returns every Test, Example and Benchmark function declared in
// the module's test files.
func testNames(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if b := d.Name(); path != "." && (strings.HasPrefix(b, ".") || b == "testdata" || b == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil {
				n := fn.Name.Name
				if strings.HasPrefix(n, "Test") || strings.HasPrefix(n, "Example") || strings.HasPrefix(n, "Benchmark") {
					names[n] = true
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}
