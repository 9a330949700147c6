-- Sample schema and data for trying pgwalstreams (the README's local demo and the Kubernetes tutorial).
-- Every statement is safe to run twice.

CREATE TABLE IF NOT EXISTS users (
  id         bigserial PRIMARY KEY,
  name       text NOT NULL,
  email      text UNIQUE,
  active     boolean NOT NULL DEFAULT true,
  profile    jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS orders (
  id        bigserial PRIMARY KEY,
  user_id   bigint NOT NULL REFERENCES users (id),
  amount    numeric(12, 2) NOT NULL,
  status    text NOT NULL DEFAULT 'new',
  placed_at timestamptz NOT NULL DEFAULT now()
);

-- A domain change and its effect in one transaction: both events are published, or neither.
BEGIN;
INSERT INTO users (name, email, profile)
VALUES ('Ada Lovelace', 'ada@example.com', '{"lang": "en", "tags": ["math", "engines"]}'),
       ('Alan Turing', 'alan@example.com', '{"lang": "en"}')
ON CONFLICT (email) DO NOTHING;
INSERT INTO orders (user_id, amount)
SELECT id, 42.50 FROM users WHERE email = 'ada@example.com';
COMMIT;

UPDATE users SET active = false WHERE email = 'alan@example.com';
UPDATE orders SET status = 'paid' WHERE status = 'new';

-- Rolled back: publishes nothing.
BEGIN;
DELETE FROM orders;
ROLLBACK;
