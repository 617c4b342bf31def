package main

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// The columns of an import or export file, in the order an export writes
// them. Lists in CSV cells are separated by listSeparator: '|' rather than
// ';' or ',', which goals written as sentences contain.
var bulkColumns = []string{"username", "email", "full_name", "department", "roles", "groups", "goals", "status", "password_hash"}

const listSeparator = "|"

// Bounds of the import: a batch is one transaction; a line (JSON or CSV)
// longer than maxImportLine is no user record, and reading one would hold
// it all in memory.
const (
	defaultImportBatch = 500
	maxImportBatch     = 5000
	maxImportLine      = 1 << 20
)

// importRecord is one row as a file gives it: a nil field was not given.
type importRecord struct {
	Username     string    `json:"username"`
	Email        *string   `json:"email"`
	FullName     *string   `json:"full_name"`
	Department   *string   `json:"department"`
	Roles        *[]string `json:"roles"`
	Groups       *[]string `json:"groups"`
	Goals        *[]string `json:"goals"`
	Status       *string   `json:"status"`
	PasswordHash *string   `json:"password_hash"`
}

func (r importRecord) row(n int) domain.ImportRow {
	out := domain.ImportRow{
		Row: n, Username: r.Username, Email: r.Email, FullName: r.FullName, Department: r.Department,
		Roles: r.Roles, Groups: r.Groups, Goals: r.Goals, PasswordHash: r.PasswordHash,
	}
	if r.Status != nil {
		st := store.UserStatus(*r.Status)
		out.Status = &st
	}
	return out
}

// rowReader reads rows one at a time; a row it cannot read is returned
// as a problem and reading goes on.
type rowReader interface {
	next() (domain.ImportRow, *domain.ImportProblem, error) // io.EOF at the end
}

func bulkFormat(format, path string) (string, error) {
	if format == "" {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".csv":
			format = "csv"
		case ".jsonl", ".ndjson":
			format = "jsonl"
		default:
			return "", fmt.Errorf("users import: cannot tell the format of %q by its extension; pass --format csv or --format jsonl", path)
		}
	}
	if format != "csv" && format != "jsonl" {
		return "", fmt.Errorf("users import: --format must be csv or jsonl, got %q", format)
	}
	return format, nil
}

// csvRows reads a CSV file with a header row naming bulkColumns (any
// subset, username required, in any order). An empty cell is a field not
// given.
type csvRows struct {
	r       *csv.Reader
	columns []string
	row     int
}

func newCSVRows(in io.Reader) (*csvRows, error) {
	r := csv.NewReader(&lineLimit{r: in, max: maxImportLine})
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("users import: read the CSV header row: %w", err)
	}
	known := map[string]bool{}
	for _, c := range bulkColumns {
		known[c] = true
	}
	seen := map[string]bool{}
	columns := make([]string, len(header))
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !known[h] || seen[h] {
			return nil, fmt.Errorf("users import: CSV column %q is unknown or repeated; the columns are %s", h, strings.Join(bulkColumns, ", "))
		}
		seen[h] = true
		columns[i] = h
	}
	if !seen["username"] {
		return nil, errors.New("users import: the CSV header row has no username column")
	}
	return &csvRows{r: r, columns: columns, row: 1}, nil
}

func (c *csvRows) next() (domain.ImportRow, *domain.ImportProblem, error) {
	rec, err := c.r.Read()
	c.row++
	if errors.Is(err, io.EOF) {
		return domain.ImportRow{}, nil, io.EOF
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return domain.ImportRow{}, &domain.ImportProblem{Row: c.row, Field: "", Message: pe.Err.Error()}, nil
	}
	if err != nil {
		return domain.ImportRow{}, nil, fmt.Errorf("users import: read CSV: %w", err)
	}
	var r importRecord
	list := func(v string) *[]string {
		var out []string
		for _, item := range strings.Split(v, listSeparator) {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
		return &out
	}
	for i, v := range rec {
		if v == "" {
			continue
		}
		s := v
		switch c.columns[i] {
		case "username":
			r.Username = v
		case "email":
			r.Email = &s
		case "full_name":
			r.FullName = &s
		case "department":
			r.Department = &s
		case "roles":
			r.Roles = list(v)
		case "groups":
			r.Groups = list(v)
		case "goals":
			r.Goals = list(v)
		case "status":
			r.Status = &s
		case "password_hash":
			r.PasswordHash = &s
		}
	}
	return r.row(c.row), nil, nil
}

// errLongLine is what lineLimit reads once a line passes its bound.
var errLongLine = fmt.Errorf("a line is longer than %d bytes: no user record is", maxImportLine)

// lineLimit fails the read of any line longer than max bytes, which
// encoding/csv would otherwise gather whole, however long.
type lineLimit struct {
	r   io.Reader
	max int
	run int // bytes since the last newline
}

func (l *lineLimit) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for i, b := range p[:n] {
		if b == '\n' {
			l.run = 0
			continue
		}
		if l.run++; l.run > l.max {
			return i, errLongLine
		}
	}
	return n, err
}

// jsonRows reads JSON lines: one object a line, keys from bulkColumns;
// a key absent or null is a field not given. Blank lines are skipped but
// counted, so that row numbers are line numbers.
type jsonRows struct {
	sc  *bufio.Scanner
	row int
}

func newJSONRows(in io.Reader) *jsonRows {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxImportLine)
	return &jsonRows{sc: sc}
}

func (j *jsonRows) next() (domain.ImportRow, *domain.ImportProblem, error) {
	for j.sc.Scan() {
		j.row++
		line := bytes.TrimSpace(j.sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var r importRecord
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			// The decoder's message names the field, never its value.
			msg := "must be a JSON object with the fields " + strings.Join(bulkColumns, ", ")
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				return domain.ImportRow{}, &domain.ImportProblem{Row: j.row, Field: te.Field, Message: "has the wrong type (" + te.Value + ")"}, nil
			}
			if strings.HasPrefix(err.Error(), "json: unknown field ") {
				msg = "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
			}
			return domain.ImportRow{}, &domain.ImportProblem{Row: j.row, Message: msg}, nil
		}
		return r.row(j.row), nil, nil
	}
	if err := j.sc.Err(); err != nil {
		return domain.ImportRow{}, nil, fmt.Errorf("users import: read line %d: %w", j.row+1, err)
	}
	return domain.ImportRow{}, nil, io.EOF
}

// importSummary is what users import prints on stdout.
type importSummary struct {
	domain.ImportReport
	DryRun   bool                   `json:"dry_run"`
	Problems []domain.ImportProblem `json:"problems"`
}

func newUsersImportCmd(a *app) *cobra.Command {
	var format string
	var dryRun bool
	var batch int
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Create or update users from a CSV or JSON lines file (- for standard input)",
		Long: "Create or update users from a CSV file (with a header row) or a JSON lines file, told apart by\n" +
			"the extension (.csv, .jsonl, .ndjson) or --format. The columns are " + strings.Join(bulkColumns, ", ") + ";\n" +
			"only username is required. Lists (roles, groups, goals) are separated by '|' in CSV and are arrays\n" +
			"in JSON; groups are names or ids. password_hash is a bcrypt ($2a$, $2b$, $2y$) or argon2id (PHC\n" +
			"string) hash, kept as it is so the user signs in with the old password; empty is no password.\n" +
			"A user is found by username: an existing one gets the fields the row gives (an empty CSV cell or\n" +
			"an absent JSON key is not given), a new one is created. Every row is checked with the rules of the\n" +
			"resource API; a bad row is reported (row, field, message on stderr and in the summary) and not\n" +
			"written, and the good rows are written in batches of --batch-size, one transaction and one\n" +
			"user.import audit entry each. A summary is printed on stdout; the exit status is 1 if a row failed.",
		Example: "  gatehouse users import people.csv --dry-run\n" +
			"  gatehouse users export --with-password-hashes | gatehouse users import --format jsonl -",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			if path == "-" && format == "" {
				return errors.New("users import: reading standard input needs --format csv or --format jsonl")
			}
			f, err := bulkFormat(format, path)
			if err != nil {
				return err
			}
			if batch < 1 || batch > maxImportBatch {
				return fmt.Errorf("users import: --batch-size must be between 1 and %d", maxImportBatch)
			}
			var in io.Reader = a.stdin
			var size int64
			if path != "-" {
				file, err := os.Open(path)
				if err != nil {
					return fmt.Errorf("users import: %w", err)
				}
				defer file.Close()
				if st, err := file.Stat(); err == nil {
					size = st.Size()
				}
				in = file
			}
			counted := &countingReader{r: bufio.NewReaderSize(in, 256<<10)}
			var rows rowReader
			if f == "csv" {
				if rows, err = newCSVRows(counted); err != nil {
					return err
				}
			} else {
				rows = newJSONRows(counted)
			}
			return a.withService(cmd.Context(), func(svc *domain.Service, _ store.Store) error {
				return a.importUsers(cmd, svc, rows, batch, dryRun, newProgress(a.stderr, counted, size))
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&format, "format", "", "csv or jsonl (default: by the file's extension)")
	fl.BoolVar(&dryRun, "dry-run", false, "check every row against the directory and write nothing")
	fl.IntVar(&batch, "batch-size", defaultImportBatch, "rows per transaction")
	return cmd
}

func (a *app) importUsers(cmd *cobra.Command, svc *domain.Service, rows rowReader, batch int, dryRun bool, bar *progress) error {
	ctx := cmd.Context()
	imp := svc.NewUserImport(domain.CLIActor(), dryRun)
	var total domain.ImportReport
	pending := make([]domain.ImportRow, 0, batch)
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		rep, err := imp.Batch(ctx, pending)
		pending = pending[:0]
		total.Add(rep)
		for _, p := range rep.Problems {
			a.reportProblem(bar, p)
		}
		bar.show(total)
		return err
	}
	for {
		r, problem, err := rows.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if problem != nil {
			total.Failed++
			total.Problems = append(total.Problems, *problem)
			a.reportProblem(bar, *problem)
			continue
		}
		pending = append(pending, r)
		if len(pending) == batch {
			if err := flush(); err != nil {
				return failure("users import", err, "", "")
			}
		}
	}
	if err := flush(); err != nil {
		return failure("users import", err, "", "")
	}
	bar.done()
	// Rows that could not be read are reported as they come, the others a
	// batch later: the summary lists them all in file order.
	problems := total.Problems
	slices.SortStableFunc(problems, func(x, y domain.ImportProblem) int { return cmp.Compare(x.Row, y.Row) })
	if problems == nil {
		problems = []domain.ImportProblem{}
	}
	if err := a.printJSON(importSummary{ImportReport: total, DryRun: dryRun, Problems: problems}); err != nil {
		return err
	}
	if total.Failed > 0 {
		return fmt.Errorf("users import: %d rows failed; nothing of them was written", total.Failed)
	}
	return nil
}

// reportProblem writes one line for a refused field on stderr.
func (a *app) reportProblem(bar *progress, p domain.ImportProblem) {
	bar.clear()
	who := ""
	if p.Username != "" {
		who = " (" + p.Username + ")"
	}
	field := p.Field
	if field == "" {
		field = "row"
	}
	fmt.Fprintf(a.stderr, "row %d%s: %s: %s\n", p.Row, who, field, p.Message)
}

// countingReader counts the bytes read, for the progress bar.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// progress draws a bar on stderr when stderr is a terminal and nothing
// otherwise, so that logs and pipes get only the problems and the summary.
type progress struct {
	w    io.Writer
	in   *countingReader
	size int64
	on   bool
}

func newProgress(w io.Writer, in *countingReader, size int64) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, in: in, size: size, on: ok && term.IsTerminal(int(f.Fd()))}
}

func (p *progress) show(r domain.ImportReport) {
	if !p.on {
		return
	}
	rows := r.Created + r.Updated + r.Unchanged + r.Failed
	if p.size <= 0 {
		fmt.Fprintf(p.w, "\r%d rows  created %d  updated %d  unchanged %d  failed %d", rows, r.Created, r.Updated, r.Unchanged, r.Failed)
		return
	}
	const width = 30
	frac := min(float64(p.in.n)/float64(p.size), 1)
	filled := int(frac * width)
	fmt.Fprintf(p.w, "\r[%s%s] %3.0f%%  %d rows  created %d  updated %d  unchanged %d  failed %d",
		strings.Repeat("#", filled), strings.Repeat(" ", width-filled), frac*100, rows, r.Created, r.Updated, r.Unchanged, r.Failed)
}

func (p *progress) clear() {
	if p.on {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func (p *progress) done() {
	if p.on {
		fmt.Fprintln(p.w)
	}
}

// exportRecord is one user as users export writes it: the import's
// columns, so that an export imports back unchanged.
type exportRecord struct {
	Username     string   `json:"username"`
	Email        string   `json:"email"`
	FullName     string   `json:"full_name"`
	Department   string   `json:"department"`
	Roles        []string `json:"roles"`
	Groups       []string `json:"groups"`
	Goals        []string `json:"goals"`
	Status       string   `json:"status"`
	PasswordHash *string  `json:"password_hash,omitempty"`
}

func newUsersExportCmd(a *app) *cobra.Command {
	var format string
	var withHashes bool
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write every user as JSON lines or CSV, in the format users import reads",
		Long: "Write every user on stdout, ordered by username, as JSON lines (default) or CSV with a header\n" +
			"row, in the columns users import reads; users are read and written a page at a time. Password\n" +
			"hashes are left out unless --with-password-hashes: the file then holds what an attacker needs to\n" +
			"guess every password offline, so keep it as you would keep the database.",
		Example: "  gatehouse users export > users.jsonl\n  gatehouse users export --format csv > users.csv",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "jsonl" && format != "csv" {
				return fmt.Errorf("users export: --format must be jsonl or csv, got %q", format)
			}
			columns := bulkColumns
			if !withHashes {
				columns = columns[:len(columns)-1]
			}
			out := bufio.NewWriterSize(a.stdout, 64<<10)
			cw := csv.NewWriter(out)
			enc := json.NewEncoder(out)
			enc.SetEscapeHTML(false)
			if format == "csv" {
				if err := cw.Write(columns); err != nil {
					return err
				}
			}
			return a.withService(cmd.Context(), func(svc *domain.Service, _ store.Store) error {
				err := svc.ExportUsers(cmd.Context(), func(users []store.User) error {
					m, err := svc.Memberships(cmd.Context(), users...)
					if err != nil {
						return err
					}
					for _, u := range users {
						rec := exportRecord{
							Username: u.Username, Email: u.Email, FullName: u.FullName, Department: u.Department,
							Roles: orEmpty(u.Roles), Groups: orEmpty(m[u.ID].Groups), Goals: orEmpty(u.Goals),
							Status: string(u.Status),
						}
						if withHashes {
							h := u.PasswordHash
							rec.PasswordHash = &h
						}
						if format == "jsonl" {
							if err := enc.Encode(rec); err != nil {
								return err
							}
							continue
						}
						row := []string{rec.Username, rec.Email, rec.FullName, rec.Department,
							strings.Join(rec.Roles, listSeparator), strings.Join(rec.Groups, listSeparator),
							strings.Join(rec.Goals, listSeparator), rec.Status}
						if withHashes {
							row = append(row, u.PasswordHash)
						}
						if err := cw.Write(row); err != nil {
							return err
						}
					}
					// Written as they come: a page at a time.
					cw.Flush()
					if err := cw.Error(); err != nil {
						return err
					}
					return out.Flush()
				})
				if err != nil {
					return failure("users export", err, "", "")
				}
				cw.Flush()
				if err := cw.Error(); err != nil {
					return err
				}
				return out.Flush()
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&format, "format", "jsonl", "jsonl or csv")
	fl.BoolVar(&withHashes, "with-password-hashes", false, "include password hashes (sensitive: they allow offline guessing)")
	return cmd
}
