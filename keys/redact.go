package keys

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// A SigningKey printed, logged or marshaled by mistake would otherwise dump
// the private exponent or scalar (crypto/rsa and crypto/ecdsa export them as
// fields); these methods show only the kid and algorithm.

func (k SigningKey) String() string {
	return fmt.Sprintf("keys.SigningKey{ID:%s Algorithm:%s}", k.ID, k.Algorithm)
}

func (k SigningKey) GoString() string { return k.String() }

// LogValue implements slog.LogValuer.
func (k SigningKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kid", k.ID), slog.String("alg", k.Algorithm))
}

// MarshalJSON implements json.Marshaler.
func (k SigningKey) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID        string `json:"kid"`
		Algorithm string `json:"alg"`
	}{k.ID, k.Algorithm})
}
