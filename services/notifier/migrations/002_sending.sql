-- Delivery in two steps: a job is marked 'sending' (and committed) before the SMTP server is
-- contacted, and its outcome is recorded in a second transaction. A job found stale in 'sending'
-- after the SMTP conversation began may have been delivered: it becomes 'maybe_sent' and is never
-- sent again (see services/notifier/jobs.py).
--   attempt_started_at: when the worker took the job (link, rendering, then SMTP), database time
--   sending_by: which worker took it, one token per attempt (host:pid:worker/attempt)
--   smtp_started_at: when it began talking to the SMTP server (NULL: nothing can have gone out)
ALTER TABLE jobs ADD COLUMN attempt_started_at timestamptz;
ALTER TABLE jobs ADD COLUMN sending_by text;
ALTER TABLE jobs ADD COLUMN smtp_started_at timestamptz;
ALTER TABLE jobs DROP CONSTRAINT jobs_state_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_state_check
    CHECK (state IN ('pending', 'sending', 'sent', 'maybe_sent', 'failed', 'cancelled'));
CREATE INDEX jobs_sending ON jobs (attempt_started_at) WHERE state = 'sending';

ALTER TABLE delivery_log DROP CONSTRAINT delivery_log_outcome_check;
ALTER TABLE delivery_log ADD CONSTRAINT delivery_log_outcome_check
    CHECK (outcome IN ('sent', 'maybe_sent', 'retry', 'failed'));
