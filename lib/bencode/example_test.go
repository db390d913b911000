package bencode_test

import (
	"fmt"

	"github.com/docket-p2p/docket/lib/bencode"
)

func Example() {
	b, err := bencode.Marshal(bencode.Dict(
		bencode.Entry{Key: "interval", Value: bencode.Int(30)},
		bencode.Entry{Key: "complete", Value: bencode.Int(2)},
	))
	if err != nil {
		panic(err)
	}
	fmt.Println(string(b))

	v, err := bencode.Decode([]byte("d4:infod6:lengthi5eee"))
	if err != nil {
		panic(err)
	}
	info, _ := v.GetDict("info")
	fmt.Println(string(info.Raw()))
	// Output:
	// d8:completei2e8:intervali30ee
	// d6:lengthi5ee
}
