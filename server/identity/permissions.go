package identity

import (
	"github.com/ecompointer/ecompointer/gen/db"
)

// Permissions are named in openapi.yaml: an operation states the one it needs with
// `x-permission` (users:admin, audit:read, ...), and the document's top-level `x-permissions`
// repeats this table for clients. A test keeps the two equal.

// rolePermissions says what each brand role may do inside its own brand. ADMIN is not listed:
// it holds every permission on every brand.
var rolePermissions = map[db.UserRole][]string{
	db.UserRoleBRANDOWNER: {"brand:read", "brand:write", "members:read", "members:write", "products:read", "products:write",
		"inventory:read", "inventory:write", "locations:write", "orders:read", "orders:write", "orders:cancel", "apikeys:manage", "events:read",
		"webhooks:read", "webhooks:write", "customers:read", "customers:write", "returns:write",
		"purchasing:read", "purchasing:write", "purchasing:receive", "imports:write"},
	db.UserRoleMANAGER: {"brand:read", "members:read", "products:read", "products:write", "inventory:read", "inventory:write",
		"locations:write", "orders:read", "orders:write", "orders:cancel", "events:read", "webhooks:read", "webhooks:write",
		"customers:read", "customers:write", "returns:write", "purchasing:read", "purchasing:write", "purchasing:receive",
		"imports:write"},
	// Warehouse staff move stock and take and ship orders (and request and receive returns), but
	// do not edit the catalog or customers, cancel, or record refunds (money: returns:write);
	// they see purchase orders and receive what arrives, but neither draft nor change them.
	db.UserRoleSTAFF: {"brand:read", "members:read", "products:read", "inventory:read", "inventory:write", "orders:read", "orders:write",
		"customers:read", "purchasing:read", "purchasing:receive"},
}

var permissionSet = func() map[db.UserRole]map[string]bool {
	out := make(map[db.UserRole]map[string]bool, len(rolePermissions))
	for role, perms := range rolePermissions {
		out[role] = make(map[string]bool, len(perms))
		for _, p := range perms {
			out[role][p] = true
		}
	}
	return out
}()

// Can reports whether role holds perm (an operation's x-permission).
func Can(role db.UserRole, perm string) bool {
	return role == db.UserRoleADMIN || permissionSet[role][perm]
}
