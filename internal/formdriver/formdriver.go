package formdriver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/html"
)

// maxPageBytes bounds what Read takes of a body: the server's pages are a
// few kilobytes, and a runaway response must not exhaust a test's memory.
const maxPageBytes = 1 << 20

// maxRedirects is where a browser gives up, as real ones do.
const maxRedirects = 10

// Page is a fetched HTML page with its forms.
type Page struct {
	Status int
	URL    *url.URL // where the page was finally fetched from (nil for Parse without a base)
	Header http.Header
	Body   string
	Title  string
	Forms  []Form
}

// Form is one <form> of a page.
type Form struct {
	Action  *url.URL // resolved against the page's URL
	Method  string   // upper case; GET when the form names none
	Fields  url.Values
	Types   map[string]string // input name -> type ("text" when it names none)
	Buttons []Button
}

// Button is a submit button: a <button> of type submit (the default) or an
// <input type="submit">. Buttons are not fields: a browser sends only the
// one that was clicked.
type Button struct{ Name, Value string }

// Form returns the first form with a (non-button) input named name, or nil.
func (p Page) Form(name string) *Form {
	for i := range p.Forms {
		if _, ok := p.Forms[i].Types[name]; ok {
			return &p.Forms[i]
		}
	}
	return nil
}

// FormWithButton returns the first form with a submit button name=value,
// or nil.
func (p Page) FormWithButton(name, value string) *Form {
	for i := range p.Forms {
		for _, b := range p.Forms[i].Buttons {
			if b.Name == name && b.Value == value {
				return &p.Forms[i]
			}
		}
	}
	return nil
}

// Hidden returns the hidden inputs of every form on the page.
func (p Page) Hidden() url.Values {
	out := url.Values{}
	for _, f := range p.Forms {
		for name, typ := range f.Types {
			if typ == "hidden" {
				out[name] = append(out[name], f.Fields[name]...)
			}
		}
	}
	return out
}

// Values returns the form's fields with each key of overrides replacing
// the form's values for it; the form itself is left as it was.
func (f *Form) Values(overrides url.Values) url.Values {
	out := make(url.Values, len(f.Fields)+len(overrides))
	for k, v := range f.Fields {
		out[k] = append([]string(nil), v...)
	}
	for k, v := range overrides {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// Submit posts the form's values (with overrides) to its action through c.
// Only POST forms are submitted: every form of the server that carries a
// credential or a CSRF token must be one, and a test should notice if one
// is not.
func (f *Form) Submit(ctx context.Context, c *http.Client, overrides url.Values) (*http.Response, error) {
	if f.Method != http.MethodPost {
		return nil, fmt.Errorf("formdriver: form to %s has method %s, want POST", f.Action.Redacted(), f.Method)
	}
	body := f.Values(overrides).Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.Action.String(), strings.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("formdriver: submit: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("formdriver: submit to %s: %w", f.Action.Redacted(), err)
	}
	return resp, nil
}

// Read reads (at most 1 MiB of) resp, closes it and parses it as a page
// at the URL it was finally fetched from.
func Read(resp *http.Response) (Page, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes))
	if err != nil {
		return Page{}, fmt.Errorf("formdriver: read %s: %w", resp.Request.URL.Redacted(), err)
	}
	pg, err := Parse(resp.Request.URL, body)
	if err != nil {
		return Page{}, err
	}
	pg.Status, pg.Header = resp.StatusCode, resp.Header
	return pg, nil
}

// Parse parses body as the page at base; form actions are resolved against
// base (a nil base leaves them as written).
func Parse(base *url.URL, body []byte) (Page, error) {
	pg := Page{URL: base, Body: string(body)}
	doc, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		return Page{}, fmt.Errorf("formdriver: parse HTML: %w", err)
	}
	var cur *Form
	var walkErr error
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if walkErr != nil {
			return
		}
		if n.Type == html.ElementNode {
			switch n.Data {
			case "title":
				if n.FirstChild != nil && pg.Title == "" {
					pg.Title = strings.TrimSpace(n.FirstChild.Data)
				}
			case "form":
				action, err := resolve(base, attr(n, "action"))
				if err != nil {
					walkErr = err
					return
				}
				method := strings.ToUpper(attr(n, "method"))
				if method == "" {
					method = http.MethodGet
				}
				pg.Forms = append(pg.Forms, Form{Action: action, Method: method, Fields: url.Values{}, Types: map[string]string{}})
				cur = &pg.Forms[len(pg.Forms)-1]
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c)
				}
				cur = nil
				return
			case "input":
				if cur != nil && attr(n, "name") != "" {
					typ := strings.ToLower(attr(n, "type"))
					if typ == "" {
						typ = "text"
					}
					if typ == "submit" {
						cur.Buttons = append(cur.Buttons, Button{attr(n, "name"), attr(n, "value")})
						break
					}
					cur.Types[attr(n, "name")] = typ
					cur.Fields.Add(attr(n, "name"), attr(n, "value"))
				}
			case "button":
				if cur != nil {
					typ := strings.ToLower(attr(n, "type"))
					if typ == "" || typ == "submit" {
						cur.Buttons = append(cur.Buttons, Button{attr(n, "name"), attr(n, "value")})
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if walkErr != nil {
		return Page{}, walkErr
	}
	return pg, nil
}

func resolve(base *url.URL, action string) (*url.URL, error) {
	var u *url.URL
	var err error
	if base == nil {
		u, err = url.Parse(action)
	} else {
		u, err = base.Parse(action)
	}
	if err != nil {
		return nil, fmt.Errorf("formdriver: form action %q: %w", action, err)
	}
	return u, nil
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// NewBrowser returns a client with a cookie jar that follows redirects
// within followHost (host[:port]) and stops at any other host, so a test
// reads a relying party's redirect URI from the Location header rather than
// fetching it. An empty followHost follows no redirect at all, for tests
// that check every step. A zero timeout means none.
func NewBrowser(followHost string, timeout time.Duration) *http.Client {
	// cookiejar.New fails only for options it is not given.
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:     jar,
		Timeout: timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if followHost == "" || req.URL.Host != followHost {
				return http.ErrUseLastResponse
			}
			if len(via) >= maxRedirects {
				return ErrTooManyRedirects
			}
			return nil
		},
	}
}

// ErrTooManyRedirects ends a redirect loop: a test should fail on one, not
// be handed its last response.
var ErrTooManyRedirects = errors.New("formdriver: more than 10 redirects")
