-- A deleted grant's revocation is held until sync has stopped the grant's watch channels
-- (channels.stopped) or the hold runs out (REVOKE_HOLD_SECONDS), whichever comes first.
-- held_for: sha256 hex of the user id, so a held row can still be matched to its user after the
-- platform deleted that user (user_id is then NULL); both are NULL once the hold has ended.
ALTER TABLE pending_revocations
    ADD COLUMN IF NOT EXISTS grant_id   text,
    ADD COLUMN IF NOT EXISTS held_until timestamptz,
    ADD COLUMN IF NOT EXISTS held_for   text;
CREATE INDEX IF NOT EXISTS pending_revocations_grant ON pending_revocations (grant_id);
