// Package usage counts what the usage analytics show (sign-ins, active
// users, client sign-ins, tokens by grant type) in memory and adds the
// counts to the store's aggregated usage table (store.Usage) in one batch
// per interval, so that no request pays a database write for being
// counted. The table is additive: several instances may flush into one
// database. A crash loses what was counted since the last flush, at most
// one interval's worth.
package usage
