-- retsctl 004: per-team RETS credentials, passwords kept only in Supabase Vault. Idempotent.
-- retsctl.rets_sources holds where and as whom to log in plus the ids of the Vault secrets;
-- retsctl.store_rets_credentials(...) creates or replaces the secrets (vault.create_secret /
-- vault.update_secret). The retsctl schema is not exposed over the Data API; call the function over
-- a direct database connection (`retsctl secrets push`).
-- Without Vault (plain PostgreSQL) this part is skipped with a NOTICE: no plain table ever holds a password.

DO $migration$
BEGIN
    IF to_regprocedure('vault.create_secret(text, text, text, uuid)') IS NULL
       OR to_regprocedure('vault.update_secret(uuid, text, text, text, uuid)') IS NULL THEN
        RAISE NOTICE 'retsctl: Supabase Vault not found (no vault.create_secret): skipped the RETS credentials '
                     'table and retsctl.store_rets_credentials(); apply on Supabase to store feed passwords';
        RETURN;
    END IF;

    EXECUTE $ddl$
        CREATE TABLE IF NOT EXISTS retsctl.rets_sources (
            team_id                text NOT NULL,
            source                 text NOT NULL,
            login_url              text NOT NULL,
            username               text NOT NULL,
            user_agent             text,
            password_secret_id     uuid NOT NULL,
            ua_password_secret_id  uuid,
            updated_at             timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (team_id, source)
        )
    $ddl$;

    -- Creates the named secret or replaces its value; returns its id.
    EXECUTE $ddl$
        CREATE OR REPLACE FUNCTION retsctl.put_vault_secret(p_name text, p_secret text, p_description text)
        RETURNS uuid LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
        DECLARE
            v_id uuid;
        BEGIN
            PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext(p_name));
            SELECT s.id INTO v_id FROM vault.secrets AS s WHERE s.name = p_name;
            IF v_id IS NULL THEN
                v_id := vault.create_secret(p_secret, p_name, p_description);
            ELSE
                PERFORM vault.update_secret(v_id, p_secret, p_name, p_description);
            END IF;
            RETURN v_id;
        END $fn$
    $ddl$;

    EXECUTE $ddl$
        CREATE OR REPLACE FUNCTION retsctl.store_rets_credentials(
            p_team_id text, p_source text, p_login_url text, p_username text, p_password text,
            p_user_agent text DEFAULT NULL, p_ua_password text DEFAULT NULL)
        RETURNS uuid LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
        DECLARE
            v_prefix text := pg_catalog.format('retsctl:%s:%s:', p_team_id, p_source);
            v_password_id uuid;
            v_ua_id uuid;
        BEGIN
            IF coalesce(p_team_id, '') = '' OR coalesce(p_source, '') = '' OR coalesce(p_login_url, '') = ''
               OR coalesce(p_username, '') = '' OR coalesce(p_password, '') = '' THEN
                RAISE EXCEPTION 'team id, source, login URL, user name and password are all required'
                    USING ERRCODE = '22023';
            END IF;
            v_password_id := retsctl.put_vault_secret(v_prefix || 'password', p_password,
                                                      'RETS password for ' || p_username || ' at ' || p_login_url);
            IF coalesce(p_ua_password, '') <> '' THEN
                v_ua_id := retsctl.put_vault_secret(v_prefix || 'ua_password', p_ua_password,
                                                    'RETS UA-Auth password for ' || coalesce(p_user_agent, '(default UA)'));
            ELSE
                DELETE FROM vault.secrets WHERE name = v_prefix || 'ua_password';
            END IF;
            INSERT INTO retsctl.rets_sources AS r
                (team_id, source, login_url, username, user_agent, password_secret_id, ua_password_secret_id)
            VALUES (p_team_id, p_source, p_login_url, p_username, p_user_agent, v_password_id, v_ua_id)
            ON CONFLICT (team_id, source) DO UPDATE SET
                login_url = EXCLUDED.login_url, username = EXCLUDED.username, user_agent = EXCLUDED.user_agent,
                password_secret_id = EXCLUDED.password_secret_id,
                ua_password_secret_id = EXCLUDED.ua_password_secret_id, updated_at = pg_catalog.now();
            RETURN v_password_id;
        END $fn$
    $ddl$;

    -- Functions are executable by PUBLIC by default, and Supabase grants anon/authenticated too.
    REVOKE ALL ON FUNCTION retsctl.put_vault_secret(text, text, text) FROM PUBLIC;
    REVOKE ALL ON FUNCTION retsctl.store_rets_credentials(text, text, text, text, text, text, text) FROM PUBLIC;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN
        REVOKE ALL ON FUNCTION retsctl.store_rets_credentials(text, text, text, text, text, text, text) FROM anon;
        REVOKE ALL ON FUNCTION retsctl.put_vault_secret(text, text, text) FROM anon;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN
        REVOKE ALL ON FUNCTION retsctl.store_rets_credentials(text, text, text, text, text, text, text) FROM authenticated;
        REVOKE ALL ON FUNCTION retsctl.put_vault_secret(text, text, text) FROM authenticated;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'service_role') THEN
        GRANT USAGE ON SCHEMA retsctl TO service_role;
        GRANT EXECUTE ON FUNCTION retsctl.store_rets_credentials(text, text, text, text, text, text, text) TO service_role;
    END IF;
END
$migration$;
