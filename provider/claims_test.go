package provider

import (
	"encoding/json"
	"testing"

	"github.com/ory/fosite/token/jwt"
)

// TestIntegralClaims: integral float64s become int64 at any depth, other
// numbers keep their value, and the caller's claims are left alone.
func TestIntegralClaims(t *testing.T) {
	in := jwt.MapClaims{
		"updated_at": float64(1796235815),
		"ratio":      0.5,
		"huge":       1e300,
		"act":        map[string]interface{}{"iat": float64(1700000000), "sub": "x"},
		"list":       []interface{}{float64(3), "s", 2.5},
		"already":    int64(7),
	}
	out := integralClaims(in)
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"act":{"iat":1700000000,"sub":"x"},"already":7,"huge":1e+300,"list":[3,"s",2.5],"ratio":0.5,"updated_at":1796235815}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	if _, ok := out["updated_at"].(int64); !ok {
		t.Errorf("updated_at is %T, want int64", out["updated_at"])
	}
	if _, ok := in["updated_at"].(float64); !ok {
		t.Errorf("the input was changed: updated_at is %T", in["updated_at"])
	}
	if _, ok := in["act"].(map[string]interface{})["iat"].(float64); !ok {
		t.Errorf("the input's nested map was changed")
	}
}
