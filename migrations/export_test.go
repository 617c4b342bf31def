package migrations

import (
	"context"
	"fmt"

	"github.com/pressly/goose/v3"
)

// UpTo applies the migrations up to version, for tests of a migration's
// treatment of rows written before it.
func UpTo(ctx context.Context, databaseURL string, version int64) error {
	return withProvider(ctx, databaseURL, func(p *goose.Provider) error {
		if _, err := p.UpTo(ctx, version); err != nil {
			return fmt.Errorf("migrations: up to %d: %w", version, err)
		}
		return nil
	})
}
