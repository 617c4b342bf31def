package config_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/config"
)

// validationCase is one change to a valid config and the key its refusal
// must name ("" for a change that stays valid).
type validationCase struct {
	name  string
	set   func(c *config.Config)
	field string
}

// checkValidation runs each case on validConfig as a subtest.
func checkValidation(t *testing.T, cases []validationCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.set(&c)
			err := c.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			assertProblemFields(t, err, tc.field)
		})
	}
}
