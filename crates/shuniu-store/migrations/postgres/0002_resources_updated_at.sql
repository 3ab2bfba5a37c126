-- Lets every server process find catalog changes made by the others (Catalog::refresh).
CREATE INDEX resources_updated_at ON resources(updated_at);
