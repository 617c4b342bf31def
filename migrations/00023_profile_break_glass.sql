-- Profile fields (OpenID Connect Core 5.1 standard claims) and break-glass
-- accounts.
--
-- phone_number is E.164 ('' for none); phone_number_verified is set by
-- administrators only and goes back to false when the number changes.
-- given_name and family_name make the name claim when full_name is empty.
-- locale is a BCP 47 tag, zoneinfo an IANA time zone name, picture an
-- https URL: domain/ validates them, the checks here only bound them.
-- break_glass marks an emergency account: it signs in without the MFA
-- enrolment its roles would demand, for a session of at most one hour,
-- and every administrator is told.

-- +goose Up
ALTER TABLE users
    ADD COLUMN IF NOT EXISTS phone_number text NOT NULL DEFAULT ''
        CONSTRAINT users_phone_number_check CHECK (phone_number = '' OR phone_number ~ '^\+[1-9][0-9]{7,14}$'),
    ADD COLUMN IF NOT EXISTS phone_number_verified boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS given_name text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS family_name text NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS locale text NOT NULL DEFAULT ''
        CONSTRAINT users_locale_check CHECK (length(locale) <= 35),
    ADD COLUMN IF NOT EXISTS zoneinfo text NOT NULL DEFAULT ''
        CONSTRAINT users_zoneinfo_check CHECK (length(zoneinfo) <= 64),
    ADD COLUMN IF NOT EXISTS picture text NOT NULL DEFAULT ''
        CONSTRAINT users_picture_check CHECK (length(picture) <= 2048),
    ADD COLUMN IF NOT EXISTS break_glass boolean NOT NULL DEFAULT false;
