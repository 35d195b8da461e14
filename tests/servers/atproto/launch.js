// Starts a real local AT Protocol network for the Bluesky tests: PLC, PDS, the Bluesky
// AppView (notifications, profiles) and Ozone, from npm's @atproto/dev-env.
//
//   node launch.js <dev-env install dir> <owners file> <info file>
//
// Settings come from the environment: ATPROTO_PG_URL, ATPROTO_PG_SCHEMA (letters and '_'
// only), and REDIS_HOST (required by dev-env, never used by TestNetwork). Once everything
// is up it writes {"pds": url, "appview": url, "plc": url, "control": url} to the info file.
//
// The control port answers POST /process-all: it waits until the AppView has indexed all
// that the PDS sequenced (dev-env's own processAll), so tests need not sleep.
//
// The network stops on SIGTERM/SIGINT, and by itself when none of the process ids listed in
// the owners file is alive any more: a killed test run leaves no server behind.
'use strict'
const fs = require('node:fs')
const http = require('node:http')

const [devEnvDir, ownersFile, infoFile] = process.argv.slice(2)
const { TestNetwork } = require(require.resolve('@atproto/dev-env', { paths: [devEnvDir] }))

function ownersAlive() {
  let pids
  try {
    pids = JSON.parse(fs.readFileSync(ownersFile, 'utf8')).owners || []
  } catch {
    return false
  }
  return pids.some((pid) => {
    try {
      process.kill(pid, 0)
      return true
    } catch (err) {
      return err.code === 'EPERM'
    }
  })
}

async function main() {
  const network = await TestNetwork.create({
    dbPostgresUrl: process.env.ATPROTO_PG_URL,
    dbPostgresSchema: process.env.ATPROTO_PG_SCHEMA,
    pds: { hostname: 'localhost' },
  })
  let stopping = null
  const stop = () => {
    if (!stopping) {
      stopping = network
        .close()
        .catch((err) => console.error('close failed', err))
        .finally(() => process.exit(0))
    }
    return stopping
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)

  const control = http.createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/process-all') {
      network
        .processAll(20000)
        .then(() => res.end('ok'))
        .catch((err) => {
          res.statusCode = 500
          res.end(String(err))
        })
      return
    }
    res.statusCode = 404
    res.end()
  })
  await new Promise((resolve) => control.listen(0, '127.0.0.1', resolve))

  setInterval(() => {
    if (!ownersAlive()) stop()
  }, 1000).unref()

  const info = JSON.stringify({
    pds: network.pds.url,
    appview: network.bsky.url,
    plc: network.plc.url,
    control: `http://127.0.0.1:${control.address().port}`,
  })
  // Written then renamed: the waiting side never reads half a file.
  fs.writeFileSync(`${infoFile}.tmp`, info)
  fs.renameSync(`${infoFile}.tmp`, infoFile)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
