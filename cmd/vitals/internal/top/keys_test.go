package top

import (
	"slices"
	"testing"
)

func TestParseKeys(t *testing.T) {
	for in, want := range map[string][]Key{
		"q":            {'q'},
		"/ab\r":        {'/', 'a', 'b', KeyEnter},
		"\x1b":         {KeyEsc},
		"\x1b[A\x1bOP": {KeyOther, KeyOther},
		"\x1bq":        {KeyEsc, 'q'},
		"\x03":         {KeyCtrlC},
		"\x7fé":        {KeyBackspace, 'é'},
		"\xff":         {KeyOther},
	} {
		if got := ParseKeys([]byte(in)); !slices.Equal(got, want) {
			t.Errorf("%q: %v, want %v", in, got, want)
		}
	}
}

func TestHandle(t *testing.T) {
	var v View
	press := func(keys string) bool {
		t.Helper()
		quit := false
		for _, k := range ParseKeys([]byte(keys)) {
			quit = quit || v.Handle(k)
		}
		return quit
	}
	press("p")
	if v.Sort != ByP99 || v.Reverse {
		t.Fatalf("p: %+v", v)
	}
	press("p")
	if !v.Reverse {
		t.Fatal("p twice did not reverse")
	}
	press("s")
	if v.Sort != ByErrors || v.Reverse {
		t.Fatalf("s: %+v", v)
	}
	if press("/chq\x7fk") || v.Filter != "chk" || !v.Editing {
		t.Fatalf("typing a filter: %+v", v)
	}
	press("\r")
	if v.Editing || v.Filter != "chk" {
		t.Fatalf("enter: %+v", v)
	}
	press("\x1b")
	if v.Filter != "" {
		t.Fatalf("esc: %+v", v)
	}
	press("/x\x1b")
	if v.Filter != "" || v.Editing {
		t.Fatalf("esc while editing: %+v", v)
	}
	if !press("q") {
		t.Fatal("q did not quit")
	}
	v.Editing = true
	if !press("\x03") {
		t.Fatal("ctrl-c while editing did not quit")
	}
}
