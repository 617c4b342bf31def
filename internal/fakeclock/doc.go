// Package fakeclock is test support: a settable, advanceable time source to
// inject wherever the code under test takes a `Now func() time.Time`, so a
// test can step past a lifetime, a lockout or a cache TTL without sleeping.
package fakeclock
