// Package storage keeps hpo studies in a SQL database: SQLite (embedded,
// pure Go) for one machine, PostgreSQL for workers on several machines
// sharing one study. Claims run in a transaction that holds the study's lock
// (BEGIN IMMEDIATE with a busy timeout in SQLite, SELECT ... FOR UPDATE of
// the study row in PostgreSQL), so that no trial is handed out twice.
//
// Times are written by the clients (Unix nanoseconds); workers on several
// machines need clocks that agree to well within the heartbeat timeout.
package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"argus/hpo"
)

// DB is a hpo.Storage in a SQL database.
type DB struct {
	db       *sql.DB
	postgres bool
}

// ErrNoDatabase is OpenExisting's error for a SQLite file that does not
// exist.
var ErrNoDatabase = errors.New("no such database")

// Open opens the storage a URL names and creates its tables when missing
// (and, for SQLite, the database file):
//
//	sqlite:///abs/path/to.db   SQLite file by absolute path
//	sqlite:relative/path.db    SQLite file by relative path
//	postgres://user:pass@host:5432/db   (also postgresql://)
func Open(ctx context.Context, rawURL string) (*DB, error) {
	return open(ctx, rawURL, true)
}

// OpenExisting opens the storage as Open does, but refuses a SQLite file
// that does not exist with an error wrapping ErrNoDatabase, so that a
// mistyped path is not taken for a new, empty storage.
func OpenExisting(ctx context.Context, rawURL string) (*DB, error) {
	return open(ctx, rawURL, false)
}

func open(ctx context.Context, rawURL string, create bool) (*DB, error) {
	scheme, rest, ok := strings.Cut(rawURL, ":")
	if !ok || scheme == "" {
		return nil, fmt.Errorf("storage %q: no scheme (want sqlite:PATH, sqlite:///PATH or postgres://...)", rawURL)
	}
	var s *DB
	switch strings.ToLower(scheme) {
	case "sqlite":
		path, err := sqlitePath(rawURL, rest)
		if err != nil {
			return nil, err
		}
		if !create {
			if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("storage %s: %w", path, ErrNoDatabase)
			}
		}
		dsn := "file:" + path + "?_pragma=busy_timeout(60000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("storage %s: %w", path, err)
		}
		s = &DB{db: db}
	case "postgres", "postgresql":
		db, err := sql.Open("pgx", rawURL)
		if err != nil {
			return nil, fmt.Errorf("storage postgres: %w", err)
		}
		db.SetMaxOpenConns(4)
		s = &DB{db: db, postgres: true}
	default:
		return nil, fmt.Errorf("storage %q: unknown scheme %q (want sqlite or postgres)", redact(rawURL), scheme)
	}
	if err := s.init(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("storage %s: %w", redact(rawURL), err)
	}
	return s, nil
}

// sqlitePath is the file of a sqlite: URL; rest follows the scheme.
func sqlitePath(rawURL, rest string) (string, error) {
	path := rest
	if strings.HasPrefix(rest, "//") {
		u, err := url.Parse(rawURL)
		if err != nil {
			return "", fmt.Errorf("storage %q: %w", rawURL, err)
		}
		path = u.Host + u.Path
	}
	if path == "" || strings.ContainsAny(path, "?#") {
		return "", fmt.Errorf("storage %q: want sqlite:PATH or sqlite:///PATH without query", rawURL)
	}
	return path, nil
}

// FilePath returns the database file a storage URL names: the path of a
// SQLite URL, or "" for other schemes and malformed URLs. Commands use it
// to keep their outputs off the database.
func FilePath(rawURL string) string {
	scheme, rest, ok := strings.Cut(rawURL, ":")
	if !ok || !strings.EqualFold(scheme, "sqlite") {
		return ""
	}
	path, err := sqlitePath(rawURL, rest)
	if err != nil {
		return ""
	}
	return path
}

// redact hides a password in a URL for error messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// q rewrites ? placeholders to PostgreSQL's $n.
func (s *DB) q(query string) string {
	if !s.postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *DB) init(ctx context.Context) error {
	id := "INTEGER PRIMARY KEY"
	if s.postgres {
		id = "BIGSERIAL PRIMARY KEY"
	}
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS hpo_studies (
			id ` + id + `,
			name TEXT NOT NULL UNIQUE,
			info TEXT NOT NULL,
			created BIGINT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS hpo_trials (
			id ` + id + `,
			study_id BIGINT NOT NULL REFERENCES hpo_studies(id),
			number INTEGER NOT NULL,
			state TEXT NOT NULL,
			worker TEXT NOT NULL DEFAULT '',
			params TEXT NOT NULL DEFAULT '{}',
			value DOUBLE PRECISION,
			constraints TEXT NOT NULL DEFAULT '[]',
			reason TEXT NOT NULL DEFAULT '',
			retry_of INTEGER NOT NULL DEFAULT -1,
			stale INTEGER NOT NULL DEFAULT 0,
			start_ns BIGINT NOT NULL DEFAULT 0,
			end_ns BIGINT NOT NULL DEFAULT 0,
			heartbeat_ns BIGINT NOT NULL DEFAULT 0,
			UNIQUE (study_id, number))`,
		`CREATE TABLE IF NOT EXISTS hpo_values (
			trial_id BIGINT NOT NULL REFERENCES hpo_trials(id),
			step INTEGER NOT NULL,
			value DOUBLE PRECISION NOT NULL,
			PRIMARY KEY (trial_id, step))`,
		`CREATE INDEX IF NOT EXISTS hpo_trials_state ON hpo_trials (study_id, state)`,
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if s.postgres {
			// Workers starting together must not race to create the tables.
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(7264921)"); err != nil {
				return err
			}
		}
		for _, st := range stmts {
			if _, err := tx.ExecContext(ctx, st); err != nil {
				return fmt.Errorf("create tables: %w", err)
			}
		}
		return nil
	})
}

// tx runs f in a transaction (BEGIN IMMEDIATE in SQLite) and commits it.
func (s *DB) tx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Close implements hpo.Storage.
func (s *DB) Close() error { return s.db.Close() }

// CreateStudy implements hpo.Storage.
func (s *DB) CreateStudy(ctx context.Context, info hpo.StudyInfo) error {
	b, err := json.Marshal(info)
	if err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, s.q("INSERT INTO hpo_studies (name, info, created) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING"),
		info.Name, string(b), info.Created.UnixNano())
	if err != nil {
		return fmt.Errorf("study %s: %w", info.Name, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("study %s: %w", info.Name, hpo.ErrExists)
	}
	return nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *DB) study(ctx context.Context, q querier, name string, lock bool) (int64, hpo.StudyInfo, error) {
	var id int64
	var raw string
	var info hpo.StudyInfo
	query := "SELECT id, info FROM hpo_studies WHERE name = ?"
	if lock && s.postgres {
		query += " FOR UPDATE"
	}
	err := q.QueryRowContext(ctx, s.q(query), name).Scan(&id, &raw)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, info, fmt.Errorf("study %s: %w", name, hpo.ErrNotFound)
	}
	if err != nil {
		return 0, info, fmt.Errorf("study %s: %w", name, err)
	}
	if err := json.Unmarshal([]byte(raw), &info); err != nil {
		return 0, info, fmt.Errorf("study %s: stored description: %w", name, err)
	}
	return id, info, nil
}

// Study implements hpo.Storage.
func (s *DB) Study(ctx context.Context, name string) (hpo.StudyInfo, error) {
	_, info, err := s.study(ctx, s.db, name, false)
	return info, err
}

// Studies implements hpo.Storage.
func (s *DB) Studies(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT name FROM hpo_studies ORDER BY name")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

func encodeParams(p map[string]float64) string {
	if p == nil {
		return "{}"
	}
	b, _ := json.Marshal(p)
	return string(b)
}

// Claim implements hpo.Storage.
func (s *DB) Claim(ctx context.Context, study string, opt hpo.ClaimOptions) (hpo.Trial, error) {
	var t hpo.Trial
	budget := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		budget = false
		sid, _, err := s.study(ctx, tx, study, true)
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		if opt.StaleAfter > 0 {
			if err := s.failStale(ctx, tx, sid, now, opt.StaleAfter); err != nil {
				return err
			}
		}
		var id int64
		var number int
		var params string
		err = tx.QueryRowContext(ctx, s.q("SELECT id, number, params FROM hpo_trials WHERE study_id = ? AND state = 'WAITING' ORDER BY number LIMIT 1"), sid).Scan(&id, &number, &params)
		switch {
		case err == nil:
			if _, err := tx.ExecContext(ctx, s.q("UPDATE hpo_trials SET state = 'RUNNING', worker = ?, start_ns = ?, heartbeat_ns = ? WHERE id = ?"),
				opt.Worker, now.UnixNano(), now.UnixNano(), id); err != nil {
				return err
			}
			t = hpo.Trial{ID: id, Number: number, State: hpo.Running, Worker: opt.Worker, Start: now, Heartbeat: now, RetryOf: -1}
			return json.Unmarshal([]byte(params), &t.Params)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if opt.MaxTrials > 0 {
			var n int
			if err := tx.QueryRowContext(ctx, s.q("SELECT COUNT(*) FROM hpo_trials WHERE study_id = ? AND stale = 0"), sid).Scan(&n); err != nil {
				return err
			}
			if n >= opt.MaxTrials {
				budget = true
				return nil // commit what failStale changed
			}
		}
		number, err = s.nextNumber(ctx, tx, sid)
		if err != nil {
			return err
		}
		err = tx.QueryRowContext(ctx, s.q(`INSERT INTO hpo_trials (study_id, number, state, worker, start_ns, heartbeat_ns)
			VALUES (?, ?, 'RUNNING', ?, ?, ?) RETURNING id`), sid, number, opt.Worker, now.UnixNano(), now.UnixNano()).Scan(&id)
		if err != nil {
			return err
		}
		t = hpo.Trial{ID: id, Number: number, State: hpo.Running, Worker: opt.Worker, Start: now, Heartbeat: now, RetryOf: -1}
		return nil
	})
	if err != nil {
		return hpo.Trial{}, fmt.Errorf("claim in study %s: %w", study, err)
	}
	if budget {
		return hpo.Trial{}, hpo.ErrBudget
	}
	return t, nil
}

func (s *DB) nextNumber(ctx context.Context, tx *sql.Tx, sid int64) (int, error) {
	var n sql.NullInt64
	if err := tx.QueryRowContext(ctx, s.q("SELECT MAX(number) FROM hpo_trials WHERE study_id = ?"), sid).Scan(&n); err != nil {
		return 0, err
	}
	if !n.Valid {
		return 0, nil
	}
	return int(n.Int64) + 1, nil
}

// failStale fails the RUNNING trials whose heartbeat is older than after
// and enqueues their parameters again, so that the work is redone.
func (s *DB) failStale(ctx context.Context, tx *sql.Tx, sid int64, now time.Time, after time.Duration) error {
	rows, err := tx.QueryContext(ctx, s.q("SELECT id, number, params FROM hpo_trials WHERE study_id = ? AND state = 'RUNNING' AND heartbeat_ns < ? ORDER BY number"),
		sid, now.Add(-after).UnixNano())
	if err != nil {
		return err
	}
	type stale struct {
		id     int64
		number int
		params string
	}
	var list []stale
	for rows.Next() {
		var st stale
		if err := rows.Scan(&st.id, &st.number, &st.params); err != nil {
			rows.Close()
			return err
		}
		list = append(list, st)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, st := range list {
		if _, err := tx.ExecContext(ctx, s.q("UPDATE hpo_trials SET state = 'FAILED', stale = 1, end_ns = ?, reason = ? WHERE id = ?"),
			now.UnixNano(), fmt.Sprintf("heartbeat older than %v", after), st.id); err != nil {
			return err
		}
		if st.params == "{}" {
			continue
		}
		n, err := s.nextNumber(ctx, tx, sid)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q("INSERT INTO hpo_trials (study_id, number, state, params, retry_of) VALUES (?, ?, 'WAITING', ?, ?)"),
			sid, n, st.params, st.number); err != nil {
			return err
		}
	}
	return nil
}

// Enqueue implements hpo.Storage.
func (s *DB) Enqueue(ctx context.Context, study string, params map[string]float64) (int, error) {
	var number int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		sid, _, err := s.study(ctx, tx, study, true)
		if err != nil {
			return err
		}
		if number, err = s.nextNumber(ctx, tx, sid); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q("INSERT INTO hpo_trials (study_id, number, state, params) VALUES (?, ?, 'WAITING', ?)"),
			sid, number, encodeParams(params))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("enqueue in study %s: %w", study, err)
	}
	return number, nil
}

// running runs f in a transaction after checking that the trial is
// RUNNING.
func (s *DB) running(ctx context.Context, id int64, what string, f func(tx *sql.Tx) error) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var state string
		var number int
		q := "SELECT state, number FROM hpo_trials WHERE id = ?"
		if s.postgres {
			q += " FOR UPDATE"
		}
		err := tx.QueryRowContext(ctx, s.q(q), id).Scan(&state, &number)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("trial id %d: %w", id, hpo.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if state != string(hpo.Running) {
			return fmt.Errorf("trial %d is %s: %w", number, state, hpo.ErrNotRunning)
		}
		return f(tx)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// SetParams implements hpo.Storage.
func (s *DB) SetParams(ctx context.Context, id int64, params map[string]float64) error {
	return s.running(ctx, id, "set params", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q("UPDATE hpo_trials SET params = ? WHERE id = ?"), encodeParams(params), id)
		return err
	})
}

// Beat implements hpo.Storage.
func (s *DB) Beat(ctx context.Context, id int64) error {
	res, err := s.db.ExecContext(ctx, s.q("UPDATE hpo_trials SET heartbeat_ns = ? WHERE id = ? AND state = 'RUNNING'"), time.Now().UnixNano(), id)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("heartbeat of trial id %d: %w", id, hpo.ErrNotRunning)
	}
	return nil
}

// Report implements hpo.Storage.
func (s *DB) Report(ctx context.Context, id int64, step int, value float64) error {
	return s.running(ctx, id, "report", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO hpo_values (trial_id, step, value) VALUES (?, ?, ?)
			ON CONFLICT (trial_id, step) DO UPDATE SET value = excluded.value`), id, step, value)
		return err
	})
}

// Finish implements hpo.Storage.
func (s *DB) Finish(ctx context.Context, id int64, state hpo.State, value *float64, constraints []float64, reason string) error {
	if !state.Finished() {
		return fmt.Errorf("finish: %s is not a final state", state)
	}
	c, err := json.Marshal(append([]float64{}, constraints...))
	if err != nil {
		return fmt.Errorf("finish: constraints: %w", err)
	}
	var v sql.NullFloat64
	if value != nil {
		v = sql.NullFloat64{Float64: *value, Valid: true}
	}
	return s.running(ctx, id, "finish", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q("UPDATE hpo_trials SET state = ?, value = ?, constraints = ?, reason = ?, end_ns = ? WHERE id = ?"),
			string(state), v, string(c), reason, time.Now().UnixNano(), id)
		return err
	})
}

// Trials implements hpo.Storage.
func (s *DB) Trials(ctx context.Context, study string) ([]hpo.Trial, error) {
	sid, _, err := s.study(ctx, s.db, study, false)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, number, state, worker, params, value, constraints, reason, retry_of, stale, start_ns, end_ns, heartbeat_ns
		FROM hpo_trials WHERE study_id = ? ORDER BY number`), sid)
	if err != nil {
		return nil, fmt.Errorf("trials of %s: %w", study, err)
	}
	var out []hpo.Trial
	byID := map[int64]int{}
	for rows.Next() {
		var t hpo.Trial
		var state, params, cons string
		var v sql.NullFloat64
		var stale int
		var start, end, beat int64
		if err := rows.Scan(&t.ID, &t.Number, &state, &t.Worker, &params, &v, &cons, &t.Reason, &t.RetryOf, &stale, &start, &end, &beat); err != nil {
			rows.Close()
			return nil, fmt.Errorf("trials of %s: %w", study, err)
		}
		t.State, t.Stale = hpo.State(state), stale != 0
		if err := json.Unmarshal([]byte(params), &t.Params); err != nil {
			rows.Close()
			return nil, fmt.Errorf("trial %d: params: %w", t.Number, err)
		}
		if err := json.Unmarshal([]byte(cons), &t.Constraints); err != nil {
			rows.Close()
			return nil, fmt.Errorf("trial %d: constraints: %w", t.Number, err)
		}
		if v.Valid {
			x := v.Float64
			t.Value = &x
		}
		t.Start, t.End, t.Heartbeat = fromNS(start), fromNS(end), fromNS(beat)
		byID[t.ID] = len(out)
		out = append(out, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("trials of %s: %w", study, err)
	}
	vr, err := s.db.QueryContext(ctx, s.q(`SELECT v.trial_id, v.step, v.value FROM hpo_values v
		JOIN hpo_trials t ON t.id = v.trial_id WHERE t.study_id = ?`), sid)
	if err != nil {
		return nil, fmt.Errorf("intermediate values of %s: %w", study, err)
	}
	defer vr.Close()
	for vr.Next() {
		var id int64
		var step int
		var v float64
		if err := vr.Scan(&id, &step, &v); err != nil {
			return nil, fmt.Errorf("intermediate values of %s: %w", study, err)
		}
		if i, ok := byID[id]; ok {
			if out[i].Intermediate == nil {
				out[i].Intermediate = map[int]float64{}
			}
			out[i].Intermediate[step] = v
		}
	}
	return out, vr.Err()
}

func fromNS(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}
