package data

import (
	"context"
	"fmt"

	"github.com/lantern-mlops/lantern/training/dataset"
)

// Load reads the CSV or Parquet file at uri (a local path, or
// s3://bucket/key reached with opts.S3) into a Frame with schema's columns,
// checking it as it streams in. The format comes from the extension unless
// opts.Format is set.
//
// The file is read once, front to back (Parquet through ranged reads), and
// never held in memory; its SHA-256 is computed on the way. The Report says
// what every check found and what happened to the rows it flagged: rows
// without a valid key or time value, dated in the future, or repeating a
// key are dropped; other invalid values are set missing; the rest is
// reported and kept (docs/data.md has the full list).
//
// Load fails, with no Frame, when the file is missing (ErrNotFound), is not
// well-formed CSV or Parquet (ErrFormat), or lacks the columns that identify
// rows (ErrSchema). Data-quality problems are not errors: check the Report,
// for example with Verify.
func Load(ctx context.Context, uri string, schema *dataset.Schema, opts Options) (*dataset.Frame, *Report, error) {
	loc, err := parseURI(uri)
	if err != nil {
		return nil, nil, err
	}
	f := opts.Format
	if f == "" {
		if f, err = FormatOf(uri); err != nil {
			return nil, nil, err
		}
	}
	var (
		frame *dataset.Frame
		rep   *Report
	)
	switch f {
	case CSV:
		rc, size, err := openStream(ctx, loc, opts.S3)
		if err != nil {
			return nil, nil, fmt.Errorf("load %s: %w", uri, err)
		}
		defer rc.Close()
		frame, rep, err = ReadCSV(ctx, rc, size, schema, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("load %s: %w", uri, err)
		}
	case Parquet:
		ra, size, closeFn, err := openReaderAt(ctx, loc, opts.S3)
		if err != nil {
			return nil, nil, fmt.Errorf("load %s: %w", uri, err)
		}
		defer closeFn()
		frame, rep, err = ReadParquet(ctx, ra, size, schema, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("load %s: %w", uri, err)
		}
	default:
		return nil, nil, fmt.Errorf("load %s: %w: unknown format %q", uri, ErrFormat, f)
	}
	rep.Source = uri
	return frame, rep, nil
}
