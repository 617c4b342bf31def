package main

import (
	"context"
	"slices"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// App access rules (appaccess) on `gatehouse clients update`: each
// --access-* flag given replaces that list of the rule (an empty value,
// --access-area "", empties it), --clear-access lets everyone in again.

type accessUpdateFlags struct {
	roles, groups, areas []string
	clear                bool
}

func addAccessUpdateFlags(cmd *cobra.Command, f *accessUpdateFlags) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.roles, "access-role", nil, "replace the roles whose holders may use the client (repeatable; \"\" for none)")
	fl.StringArrayVar(&f.groups, "access-group", nil, "replace the groups (by id) whose members may use the client (repeatable; \"\" for none)")
	fl.StringArrayVar(&f.areas, "access-area", nil, "replace the areas (by code) whose members, and their subtrees', may use the client\n"+
		"(repeatable; \"\" for none)")
	fl.BoolVar(&f.clear, "clear-access", false, "remove the app access rule: everyone may use the client")
	cmd.MarkFlagsMutuallyExclusive("clear-access", "access-role")
	cmd.MarkFlagsMutuallyExclusive("clear-access", "access-group")
	cmd.MarkFlagsMutuallyExclusive("clear-access", "access-area")
}

// patch sets p.Access from the flags given, over the client's current
// rule; it leaves p alone when none is.
func (f *accessUpdateFlags) patch(ctx context.Context, cmd *cobra.Command, svc *domain.Service, id string, p *domain.ClientPatch) error {
	changed := func(name string) bool { return cmd.Flags().Changed(name) }
	if f.clear {
		p.Access = &store.ClientAccess{}
		return nil
	}
	if !changed("access-role") && !changed("access-group") && !changed("access-area") {
		return nil
	}
	cur, err := svc.GetClient(ctx, id)
	if err != nil {
		return err
	}
	rule := cur.Access
	for _, l := range []struct {
		flag string
		dst  *[]string
		src  []string
	}{
		{"access-role", &rule.Roles, f.roles},
		{"access-group", &rule.Groups, f.groups},
		{"access-area", &rule.Areas, f.areas},
	} {
		if changed(l.flag) {
			*l.dst = slices.DeleteFunc(slices.Clone(l.src), func(s string) bool { return s == "" })
		}
	}
	p.Access = &rule
	return nil
}

// accessFlagsGiven reports whether any flag of the rule was given.
func accessFlagsGiven(cmd *cobra.Command) bool {
	for _, n := range []string{"access-role", "access-group", "access-area", "clear-access"} {
		if cmd.Flags().Changed(n) {
			return true
		}
	}
	return false
}
