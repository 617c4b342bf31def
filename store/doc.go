// Package store holds gatehouse's persistent domain types, the storage
// interfaces and their two sentinel errors. The contract of each method is
// written on the method; store/storetest checks every backend against it.
package store
