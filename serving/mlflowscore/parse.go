package mlflowscore

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// request is a parsed scoring request: either a data frame or one
// unnamed tensor.
type request struct {
	// frameStyle: answer one record per row (data frame inputs) rather
	// than one field per output (tensor inputs).
	frameStyle bool
	// frame holds named (or, for dataframe_split without columns,
	// unnamed) columns; nil when tensor is set.
	frame *frame
	// tensor is an unnamed nested array (instances or inputs as a list).
	tensor any
	// rows is the frame's row count.
	rows int
}

// frame is a data frame stored by column: cols[j][i] is row i of column j.
// Cells are json.Number, string, bool, nil (missing), []any or
// map[string]any from JSON, or csvCell from CSV.
type frame struct {
	columns []string // nil: unnamed columns
	cols    [][]any
}

// csvCell is a CSV value; it is read according to the input's datatype.
type csvCell string

// The JSON input fields of the scoring protocol.
const (
	dfSplit   = "dataframe_split"
	dfRecords = "dataframe_records"
	instances = "instances"
	inputs    = "inputs"
)

var requiredFormat = "The input must be a JSON dictionary with exactly one of the input fields {'dataframe_split', 'dataframe_records', 'instances', 'inputs'}"

func parseRequest(body []byte, f format) (*request, error) {
	if !utf8.Valid(body) {
		return nil, badRequestf("the request body is not valid UTF-8")
	}
	if f == formatCSV {
		fr, err := parseCSV(body)
		if err != nil {
			return nil, err
		}
		return &request{frameStyle: true, frame: fr, rows: fr.rows()}, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(pythonTokens(body), &top); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return nil, badRequestf("%s. Received %s.", requiredFormat, article(ute.Value))
		}
		return nil, badRequestf("Ensure that input is a valid JSON formatted string: %v", err)
	}
	if top == nil {
		return nil, badRequestf("%s. Received null.", requiredFormat)
	}
	var keys, found []string
	for k := range top {
		keys = append(keys, k)
		switch k {
		case dfSplit, dfRecords, instances, inputs:
			found = append(found, k)
		}
	}
	slices.Sort(keys)
	if len(found) != 1 {
		if len(found) == 0 && (top["messages"] != nil || top["prompt"] != nil || top["input"] != nil) {
			return nil, badRequestf("unwrapped LLM inputs (messages, prompt, input) are not supported by ONNX models; %s", strings.ToLower(requiredFormat[:1])+requiredFormat[1:])
		}
		return nil, badRequestf("%s. Received dictionary with input fields: [%s].", requiredFormat, strings.Join(keys, ", "))
	}
	raw := top[found[0]]
	v, err := decodeValue(raw)
	if err != nil {
		return nil, badRequestf("%s: %v", found[0], err)
	}
	switch found[0] {
	case dfSplit:
		fr, err := splitFrame(v)
		if err != nil {
			return nil, err
		}
		return &request{frameStyle: true, frame: fr, rows: fr.rows()}, nil
	case dfRecords:
		recs, ok := v.([]any)
		if !ok {
			return nil, badRequestf("dataframe_records must be a list of records ({column: value} objects)")
		}
		fr, err := recordsFrame(recs, "dataframe_records")
		if err != nil {
			return nil, err
		}
		return &request{frameStyle: true, frame: fr, rows: fr.rows()}, nil
	case instances:
		list, ok := v.([]any)
		if !ok {
			return nil, badRequestf("instances must be a list")
		}
		if len(list) > 0 {
			if _, isRecord := list[0].(map[string]any); isRecord {
				fr, err := recordsFrame(list, "instances")
				if err != nil {
					return nil, err
				}
				return &request{frame: fr, rows: fr.rows()}, nil
			}
		}
		return &request{tensor: list}, nil
	default: // inputs
		switch x := v.(type) {
		case map[string]any:
			fr, err := columnsFrame(x)
			if err != nil {
				return nil, err
			}
			return &request{frame: fr, rows: fr.rows()}, nil
		case []any:
			return &request{tensor: x}, nil
		}
		return nil, badRequestf("inputs must be a list (a tensor) or an object of input or column names to values")
	}
}

func article(jsonType string) string {
	switch jsonType {
	case "array":
		return "a list"
	case "number", "string", "bool":
		return "a " + jsonType
	}
	return jsonType
}

// decodeValue decodes JSON keeping numbers as json.Number (so that int64
// values stay exact). Python's NaN and ±Infinity tokens were turned into
// marked strings by pythonTokens first.
func decodeValue(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the value")
	}
	return v, nil
}

// pythonTokens rewrites the bare NaN, Infinity and -Infinity that Python's
// json writes (outside strings) into strings marked so that cells read
// them back as numbers; encoding/json rejects the bare tokens.
func pythonTokens(raw []byte) []byte {
	if !bytes.Contains(raw, []byte("NaN")) && !bytes.Contains(raw, []byte("Infinity")) {
		return raw
	}
	var out []byte
	inString := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if inString {
			out = append(out, c)
			switch c {
			case '\\':
				if i+1 < len(raw) {
					i++
					out = append(out, raw[i])
				}
			case '"':
				inString = false
			}
			continue
		}
		switch {
		case c == '"':
			inString = true
		case bytes.HasPrefix(raw[i:], []byte("NaN")):
			out = append(out, `"`+jsonNonFinitePrefix+`NaN"`...)
			i += len("NaN") - 1
			continue
		case bytes.HasPrefix(raw[i:], []byte("-Infinity")):
			out = append(out, `"`+jsonNonFinitePrefix+`-Infinity"`...)
			i += len("-Infinity") - 1
			continue
		case bytes.HasPrefix(raw[i:], []byte("Infinity")):
			out = append(out, `"`+jsonNonFinitePrefix+`Infinity"`...)
			i += len("Infinity") - 1
			continue
		}
		out = append(out, c)
	}
	return out
}

// nonFinitePrefix marks a NaN or infinity token turned into a string (a
// client would have to send this very string, NUL included, to collide).
const (
	nonFinitePrefix     = "\x00lantern-nonfinite:"
	jsonNonFinitePrefix = `\u0000lantern-nonfinite:`
)

func (f *frame) rows() int {
	if len(f.cols) == 0 {
		return 0
	}
	return len(f.cols[0])
}

// splitFrame reads pandas' split orientation: {"columns", "data", "index"?}.
func splitFrame(v any) (*frame, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, badRequestf("dataframe_split must be an object with \"columns\" and \"data\"")
	}
	for k := range obj {
		if k != "columns" && k != "data" && k != "index" {
			return nil, badRequestf("dataframe_split has an unknown field %q; it takes columns, data and index", k)
		}
	}
	data, ok := obj["data"].([]any)
	if !ok {
		return nil, badRequestf("dataframe_split needs \"data\", a list of rows")
	}
	fr := &frame{}
	width := -1
	if c, present := obj["columns"]; present {
		names, ok := c.([]any)
		if !ok {
			return nil, badRequestf("dataframe_split \"columns\" must be a list of column names")
		}
		for _, n := range names {
			s, ok := columnName(n)
			if !ok {
				return nil, badRequestf("dataframe_split \"columns\" must be a list of column names")
			}
			fr.columns = append(fr.columns, s)
		}
		if err := uniqueColumns(fr.columns); err != nil {
			return nil, err
		}
		width = len(fr.columns)
	}
	for i, r := range data {
		row, ok := r.([]any)
		if !ok {
			// A one-column frame may list its values directly.
			if width == 1 || width == -1 && len(data) > 0 {
				row = []any{r}
			} else {
				return nil, badRequestf("dataframe_split row %d is not a list", i)
			}
		}
		if width == -1 {
			width = len(row)
		}
		if len(row) != width {
			return nil, badRequestf("dataframe_split row %d has %d values for %d columns", i, len(row), width)
		}
		if fr.cols == nil {
			fr.cols = make([][]any, width)
			for j := range fr.cols {
				fr.cols[j] = make([]any, 0, len(data))
			}
		}
		for j, cell := range row {
			fr.cols[j] = append(fr.cols[j], cell)
		}
	}
	if fr.cols == nil && width > 0 {
		fr.cols = make([][]any, width)
	}
	return fr, nil
}

// columnName accepts strings and, as pandas does, numbers as names.
func columnName(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	}
	return "", false
}

func uniqueColumns(names []string) error {
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			return badRequestf("column %q appears twice", n)
		}
		seen[n] = true
	}
	return nil
}

// recordsFrame reads a list of {column: value} records; a column missing
// from a record is a missing value there, as in pandas.
func recordsFrame(recs []any, field string) (*frame, error) {
	fr := &frame{columns: []string{}}
	index := map[string]int{}
	for i, r := range recs {
		rec, ok := r.(map[string]any)
		if !ok {
			return nil, badRequestf("%s element %d is not a record ({column: value})", field, i)
		}
		// Map iteration is random: add new columns in sorted order so the
		// frame's column order does not change from run to run.
		var added []string
		for k := range rec {
			if _, ok := index[k]; !ok {
				added = append(added, k)
			}
		}
		slices.Sort(added)
		for _, k := range added {
			index[k] = len(fr.columns)
			fr.columns = append(fr.columns, k)
			fr.cols = append(fr.cols, make([]any, i, len(recs)))
		}
		for j := range fr.cols {
			fr.cols[j] = append(fr.cols[j], nil)
		}
		for k, v := range rec {
			fr.cols[index[k]][i] = v
		}
	}
	return fr, nil
}

// columnsFrame reads {name: [values...]} (MLflow's columnar inputs).
func columnsFrame(obj map[string]any) (*frame, error) {
	fr := &frame{}
	for k := range obj {
		fr.columns = append(fr.columns, k)
	}
	slices.Sort(fr.columns)
	n := -1
	for _, k := range fr.columns {
		list, ok := obj[k].([]any)
		if !ok {
			return nil, badRequestf("inputs[%q] must be a list with one value (or nested list) per row", k)
		}
		if n >= 0 && len(list) != n {
			return nil, badRequestf("the values of each input or column must have the same length: inputs[%q] has %d, others %d", k, len(list), n)
		}
		n = len(list)
		fr.cols = append(fr.cols, list)
	}
	return fr, nil
}

// parseCSV reads a CSV with a header row. A first column with an empty
// name is the index that pandas' to_csv() writes by default, and is
// dropped. Empty cells are missing values.
func parseCSV(body []byte) (*frame, error) {
	r := csv.NewReader(bytes.NewReader(body))
	r.ReuseRecord = false
	header, err := r.Read()
	if err == io.EOF {
		return nil, badRequestf("Failed to parse input as a Pandas DataFrame: the CSV is empty; it needs a header row")
	}
	if err != nil {
		return nil, badRequestf("Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid CSV with a header row: %v", err)
	}
	skip := len(header) > 0 && strings.TrimSpace(header[0]) == ""
	if skip {
		header = header[1:]
	}
	if err := uniqueColumns(header); err != nil {
		return nil, err
	}
	fr := &frame{columns: header, cols: make([][]any, len(header))}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, badRequestf("Failed to parse input as a Pandas DataFrame: %v", err)
		}
		if skip {
			rec = rec[1:]
		}
		for j, s := range rec {
			if s == "" {
				fr.cols[j] = append(fr.cols[j], nil)
			} else {
				fr.cols[j] = append(fr.cols[j], csvCell(s))
			}
		}
	}
	return fr, nil
}

// describeColumns lists names for error messages.
func describeColumns(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
