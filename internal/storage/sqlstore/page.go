package sqlstore

import "context"

// pageSize is how many rows one page of an iteration reads.
const pageSize = 1000

// paginate reads rows in pages and calls fn for each row after its page is
// read and closed, so fn may run other queries on the same transaction,
// which PostgreSQL connections cannot do while a result is open. page
// returns the query and arguments of the page after last (nil for the first
// page); each query must end with ORDER BY on a unique key and LIMIT
// pageSize.
func paginate[T any](ctx context.Context, t *tx, page func(last *T) (string, []any), scan func(scanner) (T, error), fn func(T) error) error {
	var last *T
	for {
		query, args := page(last)
		rows, err := t.query(ctx, query, args...)
		if err != nil {
			return err
		}
		var items []T
		for rows.Next() {
			item, err := scan(rows)
			if err != nil {
				rows.Close()
				return err
			}
			items = append(items, item)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, item := range items {
			if err := fn(item); err != nil {
				return err
			}
		}
		if len(items) < pageSize {
			return nil
		}
		last = &items[len(items)-1]
	}
}
