module github.com/chainwatch/chainwatch

go 1.26.8
