package identity_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/servertest"
)

func TestInvitationLifecycle(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	owner := env.Register(t, servertest.Email("inviter"))
	brand := *owner.User.BrandId
	auth := servertest.Bearer(owner.AccessToken)

	invite := func(email string, role api.InvitationRole) *api.CreateInvitationResponse {
		t.Helper()
		r, err := env.Client.CreateInvitationWithResponse(ctx, brand, api.CreateInvitationJSONRequestBody{Email: openapi_types.Email(email), Role: role}, auth)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	accept := func(tok, password string) *api.AcceptInviteResponse {
		t.Helper()
		r, err := env.Client.AcceptInviteWithResponse(ctx, api.AcceptInviteJSONRequestBody{InviteToken: tok, Name: "Invitee", Password: password})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	status := func(id openapi_types.UUID) api.InvitationStatus {
		t.Helper()
		r, err := env.Client.GetInvitationWithResponse(ctx, brand, id, auth)
		if err != nil || r.JSON200 == nil {
			t.Fatalf("get invitation = %d %s", r.StatusCode(), r.Body)
		}
		return r.JSON200.Status
	}

	email := servertest.Email("grace")
	inv := invite(strings.ToUpper(email), api.InvitationRoleSTAFF)
	if inv.JSON201 == nil || inv.JSON201.Invitation.Status != api.Pending || string(inv.JSON201.Invitation.Email) != email {
		t.Fatalf("invite = %d %s", inv.StatusCode(), inv.Body)
	}
	if loc := inv.HTTPResponse.Header.Get("Location"); !strings.HasSuffix(loc, inv.JSON201.Invitation.Id.String()) {
		t.Errorf("Location = %q", loc)
	}
	tok := inv.JSON201.InviteToken

	// The token is checked before anything else: a weak password is a 400, and spends nothing.
	weak := accept(tok, "password1")
	servertest.WantProblem(t, "weak password", weak.HTTPResponse, weak.ApplicationproblemJSON400, 400, api.ProblemCodeValidationFailed)

	joined := accept(tok, servertest.Password)
	if joined.JSON201 == nil || joined.JSON201.User.Role != api.RoleSTAFF || *joined.JSON201.User.BrandId != brand || string(joined.JSON201.User.Email) != email {
		t.Fatalf("accept = %d %s", joined.StatusCode(), joined.Body)
	}
	if p := env.Profile(t, joined.JSON201.AccessToken); p.StatusCode() != 200 {
		t.Errorf("new member's token = %d", p.StatusCode())
	}
	again := accept(tok, servertest.Password)
	servertest.WantProblem(t, "used token", again.HTTPResponse, again.ApplicationproblemJSON410, 410, api.ProblemCodeInviteGone)
	if s := status(inv.JSON201.Invitation.Id); s != api.Accepted {
		t.Errorf("status after accept = %s", s)
	}
	rev, err := env.Client.RevokeInvitationWithResponse(ctx, brand, inv.JSON201.Invitation.Id, auth)
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "revoke an accepted invitation", rev.HTTPResponse, rev.ApplicationproblemJSON409, 409, api.ProblemCodeInvitationAccepted)

	// Revoked.
	second := invite(servertest.Email("revoked"), api.InvitationRoleMANAGER).JSON201
	if r, err := env.Client.RevokeInvitationWithResponse(ctx, brand, second.Invitation.Id, auth); err != nil || r.StatusCode() != 204 {
		t.Fatalf("revoke = %d", r.StatusCode())
	}
	if r, _ := env.Client.RevokeInvitationWithResponse(ctx, brand, second.Invitation.Id, auth); r.StatusCode() != 204 {
		t.Errorf("revoking twice = %d, want 204", r.StatusCode())
	}
	r := accept(second.InviteToken, servertest.Password)
	servertest.WantProblem(t, "revoked token", r.HTTPResponse, r.ApplicationproblemJSON410, 410, api.ProblemCodeInviteGone)

	// Replaced: a new invitation of the same email revokes the pending one.
	replacedEmail := servertest.Email("replaced")
	old := invite(replacedEmail, api.InvitationRoleSTAFF).JSON201
	fresh := invite(replacedEmail, api.InvitationRoleMANAGER).JSON201
	r = accept(old.InviteToken, servertest.Password)
	servertest.WantProblem(t, "replaced token", r.HTTPResponse, r.ApplicationproblemJSON410, 410, api.ProblemCodeInviteGone)

	// Expired, 72 hours on.
	env.Clock.Advance(72*time.Hour + time.Second)
	auth = servertest.Bearer(env.Login(t, string(owner.User.Email), servertest.Password).AccessToken)
	r = accept(fresh.InviteToken, servertest.Password)
	servertest.WantProblem(t, "expired token", r.HTTPResponse, r.ApplicationproblemJSON410, 410, api.ProblemCodeInviteGone)
	if s := status(fresh.Invitation.Id); s != api.Expired {
		t.Errorf("status after 72 h = %s", s)
	}

	// Malformed and forged tokens are a 401, not a 410: nothing says such an invitation exists.
	raw, _ := base64.RawURLEncoding.DecodeString(fresh.InviteToken)
	raw[len(raw)-1] ^= 1
	for name, bad := range map[string]string{
		"garbage":        "not-a-token",
		"forged secret":  base64.RawURLEncoding.EncodeToString(raw),
		"another length": fresh.InviteToken + "AA",
	} {
		r := accept(bad, servertest.Password)
		servertest.WantProblem(t, name, r.HTTPResponse, r.ApplicationproblemJSON401, 401, api.ProblemCodeInvalidInvite)
	}

	// The list shows every state, filters by one, and pages.
	list, err := env.Client.ListInvitationsWithResponse(ctx, brand, nil, auth)
	if err != nil || list.JSON200 == nil || len(list.JSON200.Items) != 4 {
		t.Fatalf("list = %d %s", list.StatusCode(), list.Body)
	}
	if list.JSON200.Items[0].Id != fresh.Invitation.Id {
		t.Error("the list is not newest first")
	}
	revoked := api.Revoked
	list, err = env.Client.ListInvitationsWithResponse(ctx, brand, &api.ListInvitationsParams{Status: &revoked}, auth)
	if err != nil || list.JSON200 == nil || len(list.JSON200.Items) != 2 {
		t.Fatalf("revoked list = %d %s", list.StatusCode(), list.Body)
	}
	one := 1
	seen := 0
	params := &api.ListInvitationsParams{Limit: &one}
	for {
		page, err := env.Client.ListInvitationsWithResponse(ctx, brand, params, auth)
		if err != nil || page.JSON200 == nil {
			t.Fatal(err)
		}
		seen += len(page.JSON200.Items)
		if page.JSON200.NextCursor == nil {
			break
		}
		params.Cursor = page.JSON200.NextCursor
	}
	if seen != 4 {
		t.Errorf("paged through %d invitations, want 4", seen)
	}
}

func TestAcceptRaceCreatesOneAccount(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	owner := env.Register(t, servertest.Email("race-inviter"))
	inv, err := env.Client.CreateInvitationWithResponse(ctx, *owner.User.BrandId, api.CreateInvitationJSONRequestBody{Email: openapi_types.Email(servertest.Email("racer")), Role: api.InvitationRoleSTAFF}, servertest.Bearer(owner.AccessToken))
	if err != nil || inv.JSON201 == nil {
		t.Fatal(err)
	}
	codes := make(chan int, 10)
	for range 10 {
		go func() {
			r, err := env.Client.AcceptInviteWithResponse(ctx, api.AcceptInviteJSONRequestBody{InviteToken: inv.JSON201.InviteToken, Name: "R", Password: servertest.Password})
			if err != nil {
				t.Error(err)
				codes <- 0
				return
			}
			codes <- r.StatusCode()
		}()
	}
	created, gone := 0, 0
	for range 10 {
		switch c := <-codes; c {
		case http.StatusCreated:
			created++
		case http.StatusGone, http.StatusConflict:
			gone++
		default:
			t.Errorf("accept answered %d", c)
		}
	}
	if created != 1 || gone != 9 {
		t.Errorf("%d accepts succeeded and %d were refused, want 1 and 9", created, gone)
	}
}

func TestMembers(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	owner := env.Register(t, servertest.Email("members"))
	brand := *owner.User.BrandId
	auth := servertest.Bearer(owner.AccessToken)
	manager := env.Member(t, owner, api.InvitationRoleMANAGER)
	staff := env.Member(t, owner, api.InvitationRoleSTAFF)

	list, err := env.Client.ListMembersWithResponse(ctx, brand, nil, servertest.Bearer(staff.AccessToken))
	if err != nil || list.JSON200 == nil || len(list.JSON200.Items) != 3 {
		t.Fatalf("members = %d %s", list.StatusCode(), list.Body)
	}

	// A role change revokes the member's tokens.
	upd, err := env.Client.UpdateMemberWithResponse(ctx, brand, staff.User.Id, api.UpdateMemberJSONRequestBody{Role: api.BrandRoleMANAGER}, auth)
	if err != nil || upd.JSON200 == nil || upd.JSON200.Role != api.RoleMANAGER {
		t.Fatalf("promote = %d %s", upd.StatusCode(), upd.Body)
	}
	p := env.Profile(t, staff.AccessToken)
	servertest.WantProblem(t, "token after role change", p.HTTPResponse, p.ApplicationproblemJSON401, 401, api.ProblemCodeTokenRevoked)

	// The last enabled owner stays, whichever way it would go.
	demote, err := env.Client.UpdateMemberWithResponse(ctx, brand, owner.User.Id, api.UpdateMemberJSONRequestBody{Role: api.BrandRoleSTAFF}, auth)
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "demote the last owner", demote.HTTPResponse, demote.ApplicationproblemJSON409, 409, api.ProblemCodeLastOwner)
	rm, err := env.Client.RemoveMemberWithResponse(ctx, brand, owner.User.Id, auth)
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "remove the last owner", rm.HTTPResponse, rm.ApplicationproblemJSON409, 409, api.ProblemCodeLastOwner)

	// A manager cannot manage members.
	byManager, err := env.Client.RemoveMemberWithResponse(ctx, brand, staff.User.Id, servertest.Bearer(manager.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "manager removes a member", byManager.HTTPResponse, byManager.ApplicationproblemJSON403, 403, api.ProblemCodeForbidden)

	// Removal: disabled, out of the list, every session gone, and no way back in.
	if rm, err := env.Client.RemoveMemberWithResponse(ctx, brand, manager.User.Id, auth); err != nil || rm.StatusCode() != 204 {
		t.Fatalf("remove = %d", rm.StatusCode())
	}
	p = env.Profile(t, manager.AccessToken)
	servertest.WantProblem(t, "removed member's token", p.HTTPResponse, p.ApplicationproblemJSON401, 401, api.ProblemCodeTokenRevoked)
	r := env.Refresh(t, manager.RefreshToken)
	servertest.WantProblem(t, "removed member's refresh", r.HTTPResponse, r.ApplicationproblemJSON401, 401, api.ProblemCodeInvalidRefreshToken)
	login, err := env.Client.LoginWithResponse(ctx, api.LoginJSONRequestBody{Email: manager.User.Email, Password: servertest.Password})
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "removed member logs in", login.HTTPResponse, login.ApplicationproblemJSON403, 403, api.ProblemCodeAccountDisabled)
	list, _ = env.Client.ListMembersWithResponse(ctx, brand, nil, auth)
	if len(list.JSON200.Items) != 2 {
		t.Errorf("%d members listed after a removal, want 2", len(list.JSON200.Items))
	}
	again, err := env.Client.RemoveMemberWithResponse(ctx, brand, manager.User.Id, auth)
	if err != nil {
		t.Fatal(err)
	}
	servertest.WantProblem(t, "remove twice", again.HTTPResponse, again.ApplicationproblemJSON404, 404, api.ProblemCodeNotFound)

	// Promoting a member to owner lets the first owner step down.
	if r, _ := env.Client.UpdateMemberWithResponse(ctx, brand, staff.User.Id, api.UpdateMemberJSONRequestBody{Role: api.BrandRoleBRANDOWNER}, auth); r.StatusCode() != 200 {
		t.Fatalf("promote to owner = %d", r.StatusCode())
	}
	if r, _ := env.Client.UpdateMemberWithResponse(ctx, brand, owner.User.Id, api.UpdateMemberJSONRequestBody{Role: api.BrandRoleSTAFF}, auth); r.StatusCode() != 200 {
		t.Errorf("step down with another owner = %d", r.StatusCode())
	}
}
