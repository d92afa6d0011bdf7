package server_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/ecompointer/ecompointer/gen/api"
)

// module is the import path every package of this repository lives under.
const module = "github.com/ecompointer/ecompointer/"

// codeSource is what handlerCodes reads: the Go source of the server's packages, parsed lazily
// by import path, with every package-level function, method and variable by name.
type codeSource struct {
	root string // the repository's root directory
	mu   sync.Mutex
	pkgs map[string]*sourcePkg
}

type sourcePkg struct {
	path    string
	funcs   map[string][]declIn // functions by name
	methods map[string][]declIn // methods by name (of every type together)
	vars    map[string][]declIn // package-level variables by name: their values
}

// declIn is a declaration with its file's imports (name → import path).
type declIn struct {
	node    ast.Node
	imports map[string]string
}

func (s *codeSource) pkg(t *testing.T, path string) *sourcePkg {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.pkgs[path]; ok {
		return p
	}
	p := &sourcePkg{path: path, funcs: map[string][]declIn{}, methods: map[string][]declIn{}, vars: map[string][]declIn{}}
	s.pkgs[path] = p
	dir := filepath.Join(s.root, strings.TrimPrefix(path, module))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("package %s: %v", path, err)
	}
	fset := token.NewFileSet()
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		imports := map[string]string{}
		for _, imp := range f.Imports {
			ipath, _ := strconv.Unquote(imp.Path.Value)
			name := ipath[strings.LastIndex(ipath, "/")+1:]
			if imp.Name != nil {
				name = imp.Name.Name
			}
			imports[name] = ipath
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				switch {
				case d.Body == nil:
				case d.Recv != nil:
					p.methods[d.Name.Name] = append(p.methods[d.Name.Name], declIn{d.Body, imports})
				default:
					p.funcs[d.Name.Name] = append(p.funcs[d.Name.Name], declIn{d.Body, imports})
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					if vs, ok := spec.(*ast.ValueSpec); ok {
						for _, name := range vs.Names {
							for _, v := range vs.Values {
								p.vars[name.Name] = append(p.vars[name.Name], declIn{v, imports})
							}
						}
					}
				}
			}
		}
	}
	return p
}

// codeNames maps the generated constants' names (ProblemCodeSkuTaken) to their codes.
func codeNames(enum []any) map[string]api.ProblemCode {
	names := map[string]api.ProblemCode{}
	for _, v := range enum {
		code := v.(string) //nolint:forcetypeassert // the enum is of strings
		var b strings.Builder
		b.WriteString("ProblemCode")
		for _, part := range strings.Split(code, "_") {
			r := []rune(part)
			r[0] = unicode.ToUpper(r[0])
			b.WriteString(string(r))
		}
		names[b.String()] = api.ProblemCode(code)
	}
	return names
}

// handlerCodes is every problem code the function or method name of package path can refuse
// with: the api.ProblemCode constants it names, and those of every package-level function,
// method and variable of the server's packages it refers to, followed transitively. Without type
// information a method is followed by name (every method of that name in the package), so the
// answer may hold more codes than can happen; it holds fewer only if a refusal is built behind a
// method call other than those handlerCodes follows (see there).
func (s *codeSource) handlerCodes(t *testing.T, path, name string, names map[string]api.ProblemCode) map[api.ProblemCode]bool {
	t.Helper()
	codes := map[api.ProblemCode]bool{}
	seen := map[string]bool{}
	var walk func(d declIn, path string)
	// follow walks the declarations name stands for in package path: its methods of that name
	// (method), or its function and variables (!method).
	follow := func(path, name string, method bool) {
		key := path + "." + name + "." + strconv.FormatBool(method)
		if seen[key] {
			return
		}
		seen[key] = true
		p := s.pkg(t, path)
		decls := p.methods[name]
		if !method {
			decls = append(slices.Clone(p.funcs[name]), p.vars[name]...)
		}
		for _, d := range decls {
			walk(d, path)
		}
	}
	walk = func(d declIn, path string) {
		ast.Inspect(d.node, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.CallExpr:
				// A refusal's Code() call: every Code method of the package.
				if sel, ok := x.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Code" {
					follow(path, "Code", true)
				}
			case *ast.SelectorExpr:
				if id, ok := x.X.(*ast.Ident); ok {
					if ipath, ok := d.imports[id.Name]; ok {
						switch {
						case ipath == module+"gen/api":
							if code, ok := names[x.Sel.Name]; ok {
								codes[code] = true
							}
						case ipath == module+"server/problem":
							// Only its refusals' constructors: the rest writes problems
							// (Challenge names 401 codes without refusing with them).
							if strings.HasPrefix(x.Sel.Name, "Refuse") {
								follow(ipath, x.Sel.Name, false)
							}
						case strings.HasPrefix(ipath, module+"server"):
							follow(ipath, x.Sel.Name, false)
						}
						return false
					}
				}
				// Without types, x.m follows every method m of the package (Code only when
				// called, above: it is also a field of several types).
				if x.Sel.Name != "Code" {
					follow(path, x.Sel.Name, true)
				}
				walk(declIn{x.X, d.imports}, path)
				return false
			case *ast.Ident:
				follow(path, x.Name, false)
			}
			return true
		})
	}
	follow(path, name, true)
	return codes
}

// handlerPackages are the packages whose types implement the API's operations.
var handlerPackages = []string{
	module + "server", module + "server/identity", module + "server/catalog",
	module + "server/inventory", module + "server/orders",
}

// specCodeStatus reads the status the spec's ProblemCode description gives each code
// ("- `sku_taken` (409): ...", "`not_found` (404), `method_not_allowed` (405): ...").
var specCodeStatus = regexp.MustCompile("`([a-z_]+)` \\((\\d{3})\\)")

// handlerMethod is the name of the strict server method of an operationId.
func handlerMethod(operationID string) string {
	r := []rune(operationID)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// sortedCodes lists codes in order, for stable messages.
func sortedCodes(codes map[api.ProblemCode]bool) []string {
	out := make([]string, 0, len(codes))
	for c := range codes {
		out = append(out, string(c))
	}
	sort.Strings(out)
	return out
}
