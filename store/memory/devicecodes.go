package memory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// ---------------------------------------------------------------------------
// Device codes (RFC 8628)

// copyDeviceCode keeps what the device_codes row keeps: times in
// microseconds, the interval in whole seconds, lists never nil.
func copyDeviceCode(d store.DeviceCode) store.DeviceCode {
	d.Scopes = list(d.Scopes)
	d.Interval = d.Interval.Truncate(time.Second)
	d.LastPolledAt = stampPtr(d.LastPolledAt)
	d.RequestedAt = stamp(d.RequestedAt)
	d.ExpiresAt = stamp(d.ExpiresAt)
	d.Session = rawJSON(d.Session)
	d.RedeemedAt = stampPtr(d.RedeemedAt)
	return d
}

func validDeviceStatus(st store.DeviceCodeStatus) bool {
	switch st {
	case store.DevicePending, store.DeviceApproved, store.DeviceDenied:
		return true
	}
	return false
}

func (s *Store) CreateDeviceCode(ctx context.Context, d store.DeviceCode, now time.Time, maxLive int) error {
	return s.do(ctx, "create device code", func(o op) error {
		if d.Interval < time.Second {
			return errors.New("device code interval must be at least a second")
		}
		if d.Status == "" {
			d.Status = store.DevicePending
		}
		if !validDeviceStatus(d.Status) {
			return fmt.Errorf("device code status %q is invalid", d.Status)
		}
		if err := checkJSON("session", d.Session); err != nil {
			return err
		}
		if d.UserID != "" {
			uid, ok := canonicalUUID(d.UserID)
			if !ok {
				return fmt.Errorf("user %q: %w", d.UserID, store.ErrNotFound)
			}
			if _, ok := s.users[uid]; !ok {
				return fmt.Errorf("user %q: %w", d.UserID, store.ErrNotFound)
			}
			d.UserID = uid
		}
		if _, ok := s.deviceCodes[d.Signature]; ok {
			return store.ErrConflict
		}
		for _, c := range s.deviceCodes {
			if c.UserCode == d.UserCode {
				return store.ErrConflict
			}
		}
		if _, ok := s.clients[d.ClientID]; !ok {
			return fmt.Errorf("client %q: %w", d.ClientID, store.ErrNotFound)
		}
		live := 0
		for _, c := range s.deviceCodes {
			if c.ClientID == d.ClientID && now.Before(c.ExpiresAt) {
				live++
			}
		}
		if live >= maxLive {
			return store.ErrDeviceCodesFull
		}
		put(o, s.deviceCodes, d.Signature, copyDeviceCode(d))
		return nil
	})
}

// pendingByUserCode is the pending, unexpired code with that user code.
func (s *Store) pendingByUserCode(userCode string, now time.Time) (store.DeviceCode, bool) {
	for _, c := range s.deviceCodes {
		if c.UserCode == userCode && c.Status == store.DevicePending && now.Before(c.ExpiresAt) {
			return c, true
		}
	}
	return store.DeviceCode{}, false
}

func (s *Store) GetDeviceCodeByUserCode(ctx context.Context, userCode string, now time.Time) (store.DeviceCode, error) {
	var out store.DeviceCode
	err := s.do(ctx, "get device code", func(op) error {
		c, ok := s.pendingByUserCode(userCode, now)
		if !ok {
			return store.ErrNotFound
		}
		out = copyDeviceCode(c)
		return nil
	})
	return out, err
}

func (s *Store) DecideDeviceCode(ctx context.Context, userCode string, status store.DeviceCodeStatus, userID string, session json.RawMessage, now time.Time) error {
	return s.do(ctx, "decide device code", func(o op) error {
		if status != store.DeviceApproved && status != store.DeviceDenied {
			return fmt.Errorf("device code decision %q is invalid", status)
		}
		if err := checkJSON("session", session); err != nil {
			return err
		}
		uid, ok := canonicalUUID(userID)
		if !ok {
			return fmt.Errorf("user %q: %w", userID, store.ErrNotFound)
		}
		if _, ok := s.users[uid]; !ok {
			return fmt.Errorf("user %q: %w", userID, store.ErrNotFound)
		}
		c, ok := s.pendingByUserCode(userCode, now)
		if !ok {
			return store.ErrNotFound
		}
		c.Status, c.UserID, c.Session = status, uid, session
		put(o, s.deviceCodes, c.Signature, copyDeviceCode(c))
		return nil
	})
}

func (s *Store) PollDeviceCode(ctx context.Context, signature string, now time.Time, leeway time.Duration) (store.DeviceCode, bool, error) {
	var out store.DeviceCode
	var slow bool
	err := s.do(ctx, "poll device code", func(o op) error {
		c, ok := s.deviceCodes[signature]
		if !ok {
			return store.ErrNotFound
		}
		out = copyDeviceCode(c)
		now = stamp(now)
		slow = c.LastPolledAt != nil && now.Before(c.LastPolledAt.Add(c.Interval-leeway))
		if slow {
			c.Interval += store.DeviceSlowDownStep
		}
		c.LastPolledAt = &now
		put(o, s.deviceCodes, signature, copyDeviceCode(c))
		return nil
	})
	return out, slow, err
}

func (s *Store) RedeemDeviceCode(ctx context.Context, signature string, now time.Time) error {
	return s.do(ctx, "redeem device code", func(o op) error {
		c, ok := s.deviceCodes[signature]
		if !ok || c.Status != store.DeviceApproved || c.RedeemedAt != nil {
			return store.ErrNotFound
		}
		c.RedeemedAt = &now
		put(o, s.deviceCodes, signature, copyDeviceCode(c))
		return nil
	})
}

func (s *Store) DeleteExpiredDeviceCodes(ctx context.Context, now time.Time, limit int) (int, error) {
	var n int
	err := s.do(ctx, "delete expired device codes", func(o op) error {
		n = len(deleteExpired(o, s.deviceCodes, func(d store.DeviceCode) time.Time { return d.ExpiresAt }, now, limit))
		return nil
	})
	return n, err
}

// deleteDeviceCodesWhere removes what the device_codes foreign keys
// cascade to (a deleted client's or user's codes).
func (s *Store) deleteDeviceCodesWhere(o op, match func(store.DeviceCode) bool) {
	for k, d := range s.deviceCodes {
		if match(d) {
			del(o, s.deviceCodes, k)
		}
	}
}
