package mlflowapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/lantern-mlops/lantern/internal/errkind"
)

// Requests are decoded the way MLflow's server does (handlers.py
// _get_request_message): a GET takes its fields from the query string, with
// repeated keys for lists; other methods (DELETE too) from a JSON body.
// Unknown fields are ignored (MLflow parses with ignore_unknown_fields), and
// protobuf's JSON mapping is honoured: int64 fields accept numbers and
// numeric strings, doubles also "NaN" and "Infinity", enums names or
// numbers, and experiment ids numbers. A value of the wrong type, or a
// missing required field, is INVALID_PARAMETER_VALUE with MLflow's message.
//
// Request structs declare their fields with `json:"name"` tags; a field
// tagged `mlflow:"required"` must be present and non-empty.

// jsonInt is an int64 sent as a JSON number or a numeric string.
type jsonInt int64

func (v *jsonInt) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) >= 1<<63 {
			return errors.New("not an integer")
		}
		n = int64(f)
	}
	*v = jsonInt(n)
	return nil
}

// jsonID is an id MLflow declares as a string but old clients send as a
// number (experiment ids); numbers are turned into their decimal string.
type jsonID string

func (v *jsonID) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*v = jsonID(s)
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return errors.New("not a string or an integer")
	}
	*v = jsonID(strconv.FormatInt(n, 10))
	return nil
}

// jsonBool is a bool sent as true/false or "true"/"false".
type jsonBool bool

func (v *jsonBool) UnmarshalJSON(b []byte) error {
	switch strings.ToLower(string(b)) {
	case "true", `"true"`:
		*v = true
	case "false", `"false"`:
		*v = false
	default:
		return errors.New("not a boolean")
	}
	return nil
}

// jsonEnum is an enum sent by name or by number; it keeps the text.
type jsonEnum string

func (v *jsonEnum) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*v = jsonEnum(s)
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 32)
	if err != nil {
		return errors.New("not an enum name or number")
	}
	*v = jsonEnum(strconv.FormatInt(n, 10))
	return nil
}

func missingValue(name string) error {
	return invalidf("Missing value for required parameter '%s'. See the API docs for more information about request parameters.", name)
}

func invalidValue(name string, raw []byte) error {
	v := string(raw)
	if len(v) > 200 {
		v = v[:200] + "..."
	}
	if !utf8.ValidString(v) {
		v = strconv.QuoteToASCII(v)
	}
	return invalidf("Invalid value %s for parameter '%s' supplied. Hint: Value was of type '%s'. See the API docs for more information about request parameters.", v, name, pyType(raw))
}

// pyType names a JSON value's type the way MLflow's messages do (Python types).
func pyType(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "NoneType"
	}
	switch raw[0] {
	case '"':
		return "str"
	case '{':
		return "dict"
	case '[':
		return "list"
	case 't', 'f':
		return "bool"
	case 'n':
		return "NoneType"
	}
	if bytes.ContainsAny(raw, ".eE") {
		return "float"
	}
	return "int"
}

// decodeRequest reads r's fields into dst (a pointer to a request struct).
func decodeRequest(w http.ResponseWriter, r *http.Request, dst any, maxBody int64) error {
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.RawQuery != "" {
		return decodeQuery(r.URL.Query(), dst)
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		ct := r.Header.Get("Content-Type")
		if ct == "" {
			return invalidf("Bad Request. Content-Type header is missing.")
		}
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return invalidf("Bad Request. Content-Type must be one of ['application/json'].")
		}
	}
	b, err := readBody(w, r, maxBody)
	if err != nil {
		return err
	}
	return decodeBody(b, dst)
}

func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	if r.ContentLength > max {
		return nil, errTooLarge(max)
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return nil, errTooLarge(max)
	}
	if err != nil {
		return nil, invalidf("Could not read the request body: %v", err)
	}
	return b, nil
}

func errTooLarge(max int64) error {
	return &userError{errkind.TooLarge, "The request body is over the " + strconv.FormatInt(max, 10) + "-byte limit of this API"}
}

// decodeBody decodes a JSON object into dst. An empty body is {}. A body
// that is a JSON string holding an object (double-encoded, as old MLflow
// clients send) is decoded once more, as MLflow's server does.
func decodeBody(b []byte, dst any) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return decodeFields(nil, dst)
	}
	var raw map[string]json.RawMessage
	err := json.Unmarshal(b, &raw)
	if err != nil && b[0] == '"' {
		var s string
		if json.Unmarshal(b, &s) == nil {
			err = json.Unmarshal([]byte(s), &raw)
		}
	}
	if err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return invalidf("Malformed JSON in the request body: %v (at byte %d)", se, se.Offset)
		case errors.As(err, &te):
			return invalidf("Malformed request body: it must be a JSON object, not %s", te.Value)
		}
		return invalidf("Malformed JSON in the request body: %v", err)
	}
	return decodeFields(raw, dst)
}

// decodeQuery decodes query parameters into dst, building the JSON values
// MLflow builds from them: lists from repeated keys, booleans from
// "true"/"false", and strings for the rest (which int64 fields accept).
func decodeQuery(q url.Values, dst any) error {
	raw := map[string]json.RawMessage{}
	for _, f := range fieldsOf(dst) {
		vs := q[f.name]
		if len(vs) == 0 {
			continue
		}
		var v any
		switch {
		case f.typ.Kind() == reflect.Slice && f.typ.Elem().Kind() == reflect.String:
			v = vs
		case f.typ.Kind() == reflect.Slice:
			return invalidf("Parameter '%s' cannot be sent in a query string; send it in a JSON body", f.name)
		case isBool(f.typ):
			switch strings.ToLower(vs[0]) {
			case "true":
				v = true
			case "false":
				v = false
			default:
				return invalidf("Invalid boolean value: %s, must be 'true' or 'false'.", vs[0])
			}
		default:
			v = vs[0]
		}
		b, err := json.Marshal(v)
		if err != nil {
			return invalidf("Parameter '%s' is not valid UTF-8", f.name)
		}
		raw[f.name] = b
	}
	return decodeFields(raw, dst)
}

func isBool(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Bool
}

type field struct {
	name     string
	index    int
	typ      reflect.Type
	required bool
}

func fieldsOf(dst any) []field {
	t := reflect.TypeOf(dst).Elem()
	out := make([]field, 0, t.NumField())
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		out = append(out, field{name, i, sf.Type, sf.Tag.Get("mlflow") == "required"})
	}
	return out
}

// decodeFields sets dst's fields from raw JSON values; null is unset.
func decodeFields(raw map[string]json.RawMessage, dst any) error {
	v := reflect.ValueOf(dst).Elem()
	for _, f := range fieldsOf(dst) {
		rv, ok := raw[f.name]
		if ok && !bytes.Equal(bytes.TrimSpace(rv), []byte("null")) {
			if err := json.Unmarshal(rv, v.Field(f.index).Addr().Interface()); err != nil {
				return invalidValue(f.name, rv)
			}
		}
		if f.required && v.Field(f.index).IsZero() {
			return missingValue(f.name)
		}
	}
	return nil
}
