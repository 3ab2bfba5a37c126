-- Issuing compares every source row with its holder's current licence of the type. Without an
-- index on (type, holder) the planner may read every licence of the type for each row (the
-- type-and-state index), which made bulk issuing quadratic.
CREATE INDEX licences_type_holder ON licences(type_code, holder_subject);
-- The holder's identifier, sealed with the master key, from which the licence library
-- (电子证照库) is derived: the digest alone cannot say whose licence it is.
ALTER TABLE licences ADD COLUMN holder_sealed TEXT NOT NULL DEFAULT '';
