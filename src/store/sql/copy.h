#pragma once
// Moving an installation from one database to another (`boucle migrate`): every table copied
// row for row, ids kept, then checked by counting every table's rows on both sides and comparing
// runs, releases and deploys value by value.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "store/sql/connection.h"

namespace boucle::store::sql {

// The database a --db option names (sqlite:PATH, or a postgres:// URL), its schema brought up
// to date. `mustExist`: a SQLite file that is not there is an error, not a new database.
Result<std::unique_ptr<Connection>> connect(const std::string& spec, bool mustExist);

struct TableCopy {
  std::string table;
  int64_t source = 0;  // rows in the source
  int64_t target = 0;  // rows in the target after the copy
};

struct CopyReport {
  std::vector<TableCopy> tables;
  int64_t compared = 0;                  // rows of runs, releases and deploys compared
  std::vector<std::string> differences;  // empty when the target holds what the source did (else
                                         // the target was left as it was)
};

// Copies every table of `from` into `to`, which must hold no project, run or token yet, in one
// transaction on `to`, reading one snapshot of `from`, and checks the copy in that transaction:
// when the report lists differences, nothing was committed. `progress(table, rowsSoFar)`.
Result<CopyReport> copyDatabase(Connection& from, Connection& to,
                                const std::function<void(const std::string&, int64_t)>& progress);

}  // namespace boucle::store::sql
