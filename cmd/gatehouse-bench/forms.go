package main

import (
	"bytes"
	"errors"
	"io"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// form is an HTML form as far as a flow needs it.
type form struct {
	action, method string
	inputs         []formInput
	buttons        []formInput
}

type formInput struct{ name, typ, value string }

// parseForms returns the forms of an HTML page, in order.
func parseForms(page []byte) ([]form, error) {
	z := html.NewTokenizer(bytes.NewReader(page))
	var forms []form
	var cur *form
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if errors.Is(z.Err(), io.EOF) {
				return forms, nil
			}
			return nil, z.Err()
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			attr := func(k string) string {
				for _, a := range tok.Attr {
					if a.Key == k {
						return a.Val
					}
				}
				return ""
			}
			switch tok.Data {
			case "form":
				forms = append(forms, form{action: attr("action"), method: attr("method")})
				cur = &forms[len(forms)-1]
			case "input":
				if cur == nil {
					continue
				}
				in := formInput{name: attr("name"), typ: strings.ToLower(attr("type")), value: attr("value")}
				if in.typ == "submit" {
					cur.buttons = append(cur.buttons, in)
				} else {
					cur.inputs = append(cur.inputs, in)
				}
			case "button":
				if cur == nil {
					continue
				}
				typ := strings.ToLower(attr("type"))
				if typ == "" || typ == "submit" {
					cur.buttons = append(cur.buttons, formInput{name: attr("name"), typ: "submit", value: attr("value")})
				}
			}
		case html.EndTagToken:
			if name, _ := z.TagName(); string(name) == "form" {
				cur = nil
			}
		}
	}
}

func (f *form) hasPassword() bool {
	for _, in := range f.inputs {
		if in.typ == "password" {
			return true
		}
	}
	return false
}

// otpField is the input of a second-step form that takes the code of an
// authenticator app (gatehouse's /login/mfa).
const otpField = "code"

// hasInput reports whether the form has a visible input called name.
func (f *form) hasInput(name string) bool {
	for _, in := range f.inputs {
		if in.name == name && in.typ != "hidden" {
			return true
		}
	}
	return false
}

// allowButton is the submit button that grants consent, if the form has one.
func (f *form) allowButton() *formInput {
	for i, b := range f.buttons {
		switch strings.ToLower(b.value) {
		case "allow", "accept", "approve", "yes":
			if b.name != "" {
				return &f.buttons[i]
			}
		}
	}
	return nil
}

func (f *form) hiddenValues() url.Values {
	v := url.Values{}
	for _, in := range f.inputs {
		if in.typ == "hidden" && in.name != "" {
			v.Add(in.name, in.value)
		}
	}
	return v
}

// loginValues fills the password input with password and the first text or
// email input with username, keeping every hidden field (CSRF token, the
// return address).
func (f *form) loginValues(username, password string) url.Values {
	v := f.hiddenValues()
	userSet := false
	for _, in := range f.inputs {
		switch {
		case in.name == "":
		case in.typ == "password":
			v.Set(in.name, password)
		case !userSet && (in.typ == "" || in.typ == "text" || in.typ == "email"):
			v.Set(in.name, username)
			userSet = true
		}
	}
	return v
}
