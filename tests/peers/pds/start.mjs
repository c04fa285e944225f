// Local Bluesky PDS for the tests: an in-memory PLC directory (@did-plc/server, Database.mock())
// plus the reference PDS (@atproto/pds), both on 127.0.0.1 only, data in a fresh temp dir.
//
// Run with the Node 22 binary from install.sh (see run.sh):
//   "$PDS_NODE" tests/peers/pds/start.mjs
// Env: PDS_PORT (2583), PLC_PORT (2582), PDS_ADMIN_PASSWORD (admin), PDS_INSTALL_DIR (default:
// the cache folder install.sh uses for this lockfile), LOG_ENABLED (PDS logs to stderr; off).
// Prints exactly one line to stdout when ready: `READY http://127.0.0.1:<PDS_PORT>`.
// SIGTERM / SIGINT: stops both servers, removes the temp dir, exits 0.
import { createHash, randomBytes } from 'node:crypto'
import dns from 'node:dns'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const HOST = '127.0.0.1'
// "localhost" (used for the PLC URL and the PDS's own public URL) must reach the IPv4 loopback we bind.
dns.setDefaultResultOrder('ipv4first')
const log = (...args) => console.error('[pds-peer]', ...args)

// --- Force loopback: the PDS (and PLC) call app.listen(port) with no host. ------------------
const origListen = net.Server.prototype.listen
net.Server.prototype.listen = function listen(...args) {
  const [first, second] = args
  const isPort = typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))
  if (isPort && typeof second !== 'string') {
    args.splice(1, 0, HOST)
  } else if (first && typeof first === 'object' && !first.path && first.host === undefined) {
    args[0] = { ...first, host: HOST }
  }
  return origListen.apply(this, args)
}

// --- Locate the install made by install.sh (outside the repo). -------------------------------
function defaultInstallDir() {
  const here = path.dirname(fileURLToPath(import.meta.url))
  const lock = fs.readFileSync(path.join(here, 'package-lock.json'))
  const hash = createHash('sha256').update(lock).digest('hex').slice(0, 16)
  const cacheRoot =
    process.env.PDS_CACHE_ROOT ||
    path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'slogan-scheduler')
  return path.join(cacheRoot, `pds-${hash}`)
}
const installDir = process.env.PDS_INSTALL_DIR || defaultInstallDir()
if (!fs.existsSync(path.join(installDir, 'node_modules'))) {
  log(`no install at ${installDir}: run tests/peers/pds/install.sh first`)
  process.exit(2)
}
const requireFromInstall = createRequire(path.join(installDir, 'package.json'))
const load = (name) => import(pathToFileURL(requireFromInstall.resolve(name)).href)

const major = Number(process.versions.node.split('.')[0])
if (major < 22) {
  log(`Node ${process.versions.node} is too old: use the Node 22 binary from install.sh`)
  process.exit(2)
}

function envPort(name, fallback) {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`bad ${name}: ${raw}`)
  return n
}

const pdsPort = envPort('PDS_PORT', 2583)
const plcPort = envPort('PLC_PORT', 2582)
const adminPassword = process.env.PDS_ADMIN_PASSWORD || 'admin'

const [pdsMod, plcMod, cryptoMod] = await Promise.all([
  load('@atproto/pds'),
  load('@did-plc/server'),
  load('@atproto/crypto'),
])
const pdsLib = pdsMod.default && pdsMod.default.PDS ? pdsMod.default : pdsMod
const plcLib = plcMod.default && plcMod.default.PlcServer ? plcMod.default : plcMod
const { Secp256k1Keypair } = cryptoMod.default && cryptoMod.default.Secp256k1Keypair ? cryptoMod.default : cryptoMod

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'slogan-pds-'))
let plc
let pds
let stopping = false

async function stop(code) {
  if (stopping) return
  stopping = true
  const force = setTimeout(() => process.exit(code), 10_000)
  force.unref()
  for (const [name, server] of [
    ['pds', pds],
    ['plc', plc],
  ]) {
    if (!server) continue
    try {
      await server.destroy()
    } catch (err) {
      if (err?.code !== 'ERR_SERVER_NOT_RUNNING') log(`error stopping ${name}:`, err)
    }
  }
  fs.rmSync(dataDir, { recursive: true, force: true })
  process.exit(code)
}
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => void stop(0))

try {
  plc = plcLib.PlcServer.create({ db: plcLib.Database.mock(), port: plcPort })
  const plcServer = await plc.start()
  // The PDS's DID resolver refuses IP-literal hosts (safeFetch allowIpHost: false), so name the
  // PLC by "localhost"; it is still only bound to 127.0.0.1.
  const plcUrl = `http://localhost:${plcServer.address().port}`

  const rotationKey = await Secp256k1Keypair.create({ exportable: true })
  const rotationHex = Buffer.from(await rotationKey.export()).toString('hex')

  const env = {
    devMode: true,
    hostname: 'localhost',
    port: pdsPort,
    dataDirectory: dataDir,
    blobstoreDiskLocation: path.join(dataDir, 'blobs'),
    didPlcUrl: plcUrl,
    serviceHandleDomains: ['.test'],
    inviteRequired: false,
    disableSsrfProtection: true,
    rateLimitsEnabled: false,
    crawlers: [],
    jwtSecret: randomBytes(32).toString('hex'),
    adminPassword,
    plcRotationKeyK256PrivateKeyHex: rotationHex,
    serviceName: 'slogan-scheduler test PDS',
  }
  const cfg = pdsLib.envToCfg(env)
  const secrets = pdsLib.envToSecrets(env)
  pds = await pdsLib.PDS.create(cfg, secrets)
  const pdsServer = await pds.start()
  const url = `http://${HOST}:${pdsServer.address().port}`
  log(`PLC ${plcUrl}, PDS ${url}, data ${dataDir}, pid ${process.pid}`)
  process.stdout.write(`READY ${url}\n`)
} catch (err) {
  log('failed to start:', err)
  await stop(1)
}
