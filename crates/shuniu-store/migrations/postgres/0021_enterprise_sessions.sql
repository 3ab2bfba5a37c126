-- Legal persons sign in too (法人登录, 惠企通): an enterprise's session on its own page is a row
-- of the same table, keyed by its unified social credit code instead of an ID number. The kind
-- keeps the two apart: a citizen's cookie never opens an enterprise's page, nor the reverse.
ALTER TABLE citizen_sessions ADD COLUMN subject_kind TEXT NOT NULL DEFAULT 'person';
