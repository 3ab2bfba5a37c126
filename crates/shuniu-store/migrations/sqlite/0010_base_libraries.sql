-- Base libraries (基础库): catalog resources the hub derives from its departments' data, one
-- row per person (人口库) or legal entity (法人库). `kind` names the library; `key_type` the
-- semantic type of its key. A library's contents live in the lake like any dataset; here is
-- only what the derivation needs: which source versions the library was last built from
-- (the change feed is read from there on), and what the last build did.
CREATE TABLE base_libraries (
    code        TEXT PRIMARY KEY,
    kind        TEXT NOT NULL UNIQUE,
    key_type    TEXT NOT NULL,
    bound_by    TEXT NOT NULL,
    bound_at    TEXT NOT NULL,
    built_at    TEXT,
    last_build  TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE base_library_sources (
    library_code  TEXT NOT NULL,
    resource_code TEXT NOT NULL,
    version       BIGINT NOT NULL,
    PRIMARY KEY (library_code, resource_code)
);
