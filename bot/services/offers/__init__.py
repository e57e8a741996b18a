"""The municipality keeps its own offer (issue 20): the catalogue editor in the console
(`editor`), residents who propose offers on the public form (`public`), and their store
(`store`: draft, versions, proposals in the case store's database)."""
