package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// Deribit accepts a number written as a JSON string wherever its API takes a
// number ("amount": "10", as ccxt sends it) and "true"/"false" wherever it takes
// a boolean. The simulator accepts the same through these parameter types;
// anything else is Deribit's -32602 "Invalid params" with data.reason "wrong
// format" and data.param naming the parameter.

// number is a JSON number or a string holding one (finite).
type number float64

func (n *number) UnmarshalJSON(b []byte) error {
	s, quoted := unquoteParam(b)
	if !quoted && string(b) == "null" {
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || s != strings.TrimSpace(s) {
		return wrongFormat(b, reflect.TypeOf(float64(0)))
	}
	*n = number(v)
	return nil
}

// integer is a JSON integer or a string holding one.
type integer int64

func (n *integer) UnmarshalJSON(b []byte) error {
	s, quoted := unquoteParam(b)
	if !quoted && string(b) == "null" {
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// 1e3 and 10.0 are integers to Deribit's JSON parser too.
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return wrongFormat(b, reflect.TypeOf(int64(0)))
		}
		v = int64(f)
	}
	*n = integer(v)
	return nil
}

// flag is a JSON boolean or the string "true" or "false".
type flag bool

func (f *flag) UnmarshalJSON(b []byte) error {
	s, quoted := unquoteParam(b)
	switch {
	case !quoted && s == "null":
		return nil
	case s == "true":
		*f = true
	case s == "false":
		*f = false
	default:
		return wrongFormat(b, reflect.TypeOf(false))
	}
	return nil
}

// unquoteParam returns the string inside a JSON string, or b itself.
func unquoteParam(b []byte) (string, bool) {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if json.Unmarshal(b, &s) == nil {
			return s, true
		}
	}
	return string(b), false
}

// wrongFormat is the error encoding/json decorates with the parameter's name
// (see paramsError).
func wrongFormat(b []byte, t reflect.Type) error {
	v := "number"
	if len(b) > 0 {
		switch b[0] {
		case '"':
			v = "string"
		case '{':
			v = "object"
		case '[':
			v = "array"
		case 't', 'f':
			v = "bool"
		}
	}
	return &json.UnmarshalTypeError{Value: v, Type: t}
}

// decodeParams unmarshals a request's params into v. A failure is Deribit's
// -32602 in Deribit's shape: no Go type, struct or field name reaches the
// client, only the parameter's JSON name.
func decodeParams(params []byte, v any) *Error {
	if len(params) == 0 || string(params) == "null" {
		return nil
	}
	if err := json.Unmarshal(params, v); err != nil {
		return paramsError(err)
	}
	return nil
}

func paramsError(err error) *Error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		data := map[string]string{"reason": "wrong format"}
		if te.Field != "" {
			name := te.Field
			if i := strings.LastIndexByte(name, '.'); i >= 0 {
				name = name[i+1:]
			}
			data["param"] = name
		}
		return NewError(CodeInvalidParams, data)
	}
	return NewError(CodeInvalidParams, map[string]string{"reason": "params must be an object of named parameters"})
}
