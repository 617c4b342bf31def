package store

// Permissions, as carried by roles. A role's own permissions are listed on
// it; its effective permissions add those of every ancestor.
const (
	PermProfileRead          = "profile:read"
	PermDashboardsRead       = "dashboards:read"
	PermProfileWrite         = "profile:write"
	PermTokensSelf           = "tokens:self"
	PermUsersRead            = "users:read"
	PermUsersWrite           = "users:write"
	PermUsersStatus          = "users:status"
	PermUsersRoles           = "users:roles"
	PermUsersDelete          = "users:delete"
	PermRolesWrite           = "roles:write"
	PermGroupsWrite          = "groups:write"
	PermAccessRequestsReview = "access-requests:review"
	PermTokensUsers          = "tokens:users"
	PermTokensSystem         = "tokens:system"
	PermClientsWrite         = "clients:write"
	PermAuditRead            = "audit:read"
	PermSessionsRevoke       = "sessions:revoke"
	PermSettingsWrite        = "settings:write"
	// PermUsersImpersonate: token exchange (RFC 8693) for a token that
	// acts as another user ("su"), within the caller's own power.
	PermUsersImpersonate = "users:impersonate"
	// PermAreasWrite: the tree of organizational areas and its
	// memberships (areas.go).
	PermAreasWrite = "areas:write"

	// Events and webhooks.
	// PermWebhooksWrite: manage webhook subscriptions and read their
	// delivery logs.
	PermWebhooksWrite = "webhooks:write"

	// SCIM 2.0 provisioning.
	// PermSCIMProvision: drive the directory through SCIM (scim/): create,
	// replace, deactivate and delete users, and manage groups and their
	// members, as an identity provider such as Okta or Entra ID does.
	PermSCIMProvision = "scim:provision"
)

// BuiltInRoles returns the four roles every store starts with, following the
// permission matrix of DESIGN.md section 3: admin ⊃ manager ⊃ user ⊃ viewer.
// migrations/ seeds the same rows; the conformance suite checks they agree.
func BuiltInRoles() []Role {
	return []Role{
		{
			Name:        "admin",
			Description: "Everything, including roles, user deletion, clients, system tokens and settings.",
			Parent:      "manager",
			Permissions: []string{PermUsersWrite, PermUsersRoles, PermUsersDelete, PermRolesWrite,
				PermGroupsWrite, PermTokensSystem, PermClientsWrite, PermSessionsRevoke, PermSettingsWrite,
				PermUsersImpersonate,
				// Areas (areas.go).
				PermAreasWrite,
				// Events and webhooks.
				PermWebhooksWrite,
				// SCIM 2.0 provisioning.
				PermSCIMProvision},
			BuiltIn: true,
		},
		{
			Name:        "manager",
			Description: "Lists and reads users, changes their status, reviews access requests, makes tokens for users, reads the audit log.",
			Parent:      "user",
			Permissions: []string{PermUsersRead, PermUsersStatus, PermAccessRequestsReview, PermTokensUsers, PermAuditRead},
			BuiltIn:     true,
		},
		{
			Name:        "user",
			Description: "Edits its own profile and makes personal API tokens.",
			Parent:      "viewer",
			Permissions: []string{PermProfileWrite, PermTokensSelf},
			BuiltIn:     true,
		},
		{
			Name:        "viewer",
			Description: "Reads dashboards and its own profile.",
			Permissions: []string{PermProfileRead, PermDashboardsRead},
			BuiltIn:     true,
		},
	}
}
