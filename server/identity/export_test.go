package identity

// RolePermissions returns a copy of the permission table, for the test that compares it with the
// spec's x-permissions.
func RolePermissions() map[string][]string {
	out := make(map[string][]string, len(rolePermissions))
	for role, perms := range rolePermissions {
		out[string(role)] = append(make([]string, 0, len(perms)), perms...)
	}
	return out
}
