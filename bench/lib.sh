# Shared by the bench scripts (sourced). start_server DIR: `boucle server` on a free port with
# its data in DIR/data; sets SERVER_PID, BOUCLE_SERVER and BOUCLE_TOKEN. Needs $BOUCLE.
start_server() {
  "$BOUCLE" server --data "$1/data" --listen 127.0.0.1:0 > "$1/server.log" 2>&1 &
  SERVER_PID=$!
  until grep -q "listening on" "$1/server.log" 2>/dev/null; do sleep 0.01; done
  local port
  port=$(grep -o "127.0.0.1:[0-9]*" "$1/server.log" | head -1 | cut -d: -f2)
  export BOUCLE_SERVER=http://127.0.0.1:$port BOUCLE_TOKEN=$(cat "$1/data/initial-admin-token")
}
