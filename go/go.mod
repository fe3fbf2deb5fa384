module github.com/rr-project/rr/go

go 1.23
