-- TEST-ONLY STAND-IN for Supabase Vault (supabase/vault 0.3.0). NOT FOR PRODUCTION: it does not encrypt.
--
-- Supabase Vault cannot be installed here (no package, no network), so the tests load this instead.
-- It copies the extension's SQL surface: the table vault.secrets, vault.create_secret(new_secret,
-- new_name, new_description, new_key_id), vault.update_secret(secret_id, new_secret, new_name,
-- new_description, new_key_id) and the view vault.decrypted_secrets. Where the real extension stores
-- an AEAD ciphertext (base64) in vault.secrets.secret, this stores the plain value base64-encoded, so a
-- scan of every table for a password finds nothing while the view still returns it. It proves the
-- logic and grants of retsctl's credential functions, not encryption.

CREATE SCHEMA IF NOT EXISTS vault;

CREATE TABLE IF NOT EXISTS vault.secrets (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text,
    description  text NOT NULL DEFAULT '',
    secret       text NOT NULL,
    key_id       uuid,
    nonce        bytea,
    created_at   timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at   timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE UNIQUE INDEX IF NOT EXISTS secrets_name_idx ON vault.secrets (name) WHERE name IS NOT NULL;

CREATE OR REPLACE VIEW vault.decrypted_secrets AS
SELECT s.id, s.name, s.description, s.secret,
       convert_from(decode(s.secret, 'base64'), 'utf8') AS decrypted_secret,
       s.key_id, s.nonce, s.created_at, s.updated_at
FROM vault.secrets AS s;

CREATE OR REPLACE FUNCTION vault.create_secret(
    new_secret text, new_name text = NULL, new_description text = '', new_key_id uuid = NULL)
RETURNS uuid LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
    v_id uuid;
BEGIN
    INSERT INTO vault.secrets (secret, name, description)
    VALUES (encode(convert_to(new_secret, 'utf8'), 'base64'), new_name, new_description)
    RETURNING id INTO v_id;
    RETURN v_id;
END $$;

CREATE OR REPLACE FUNCTION vault.update_secret(
    secret_id uuid, new_secret text = NULL, new_name text = NULL, new_description text = NULL,
    new_key_id uuid = NULL)
RETURNS void LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
    UPDATE vault.secrets AS s SET
        secret = CASE WHEN new_secret IS NULL THEN s.secret
                      ELSE encode(convert_to(new_secret, 'utf8'), 'base64') END,
        name = coalesce(new_name, s.name),
        description = coalesce(new_description, s.description),
        updated_at = now()
    WHERE s.id = secret_id;
END $$;
