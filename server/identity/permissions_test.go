package identity_test

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/ecompointer/ecompointer/server/identity"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// TestPermissionsAreOneTable keeps the spec's x-permissions and server/identity/permissions.go equal, and
// every operation's x-permission a permission some table row names.
func TestPermissionsAreOneTable(t *testing.T) {
	t.Parallel()
	doc := servertest.Doc(t)
	raw, ok := doc.Extensions["x-permissions"].(map[string]any)
	if !ok {
		t.Fatal("openapi.yaml has no x-permissions table")
	}
	inSpec := map[string][]string{}
	known := map[string]bool{}
	for role, list := range raw {
		inSpec[role] = []string{}
		for _, p := range list.([]any) {
			inSpec[role] = append(inSpec[role], p.(string))
			known[p.(string)] = true
		}
		sort.Strings(inSpec[role])
	}
	if got := inSpec["ADMIN"]; len(got) != 1 || got[0] != "*" {
		t.Errorf("ADMIN must hold every permission (\"*\"), the spec says %v", got)
	}
	delete(inSpec, "ADMIN")
	inCode := identity.RolePermissions()
	for role := range inCode {
		sort.Strings(inCode[role])
	}
	if !reflect.DeepEqual(inSpec, inCode) {
		t.Errorf("x-permissions %v differs from server/identity/permissions.go %v", inSpec, inCode)
	}
	for _, p := range doc.Extensions["x-admin-permissions"].([]any) {
		known[p.(string)] = true
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			perm, _ := op.Extensions["x-permission"].(string)
			if perm != "" && !known[perm] {
				t.Errorf("%s %s needs %q, which is in neither x-permissions nor x-admin-permissions", method, path, perm)
			}
			if needsPermission := strings.HasPrefix(path, "/admin/") || strings.HasPrefix(path, "/brands"); needsPermission && perm == "" {
				t.Errorf("%s %s declares no x-permission", method, path)
			}
		}
	}
}
