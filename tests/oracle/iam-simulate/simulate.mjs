// Test-time oracle for workstation/embedded/iam_policy.py (tests/slow/test_iam_policy_oracle.py).
// Reads a JSON list of cases on stdin, prints one JSON line per case:
// {"decision": "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied"} or {"error": "..."}, plus
// "ignored": context keys iam-simulate dropped as not applicable to the action (a case that
// relies on such a key would compare nothing, so the test refuses it).
// Case: {principal, action, resource, resourceAccount, context, identityPolicies: [[name, doc]],
//        resourcePolicy: doc | null}
import { runSimulation } from '@cloud-copilot/iam-simulate'

const text = (value) => (typeof value === 'string' ? value : JSON.stringify(value))

async function simulate(c) {
  const contextVariables = {}
  for (const [key, value] of Object.entries(c.context ?? {})) {
    contextVariables[key] = Array.isArray(value) ? value.map(text) : text(value)
  }
  const simulation = {
    request: {
      principal: c.principal,
      action: c.action,
      resource: { resource: c.resource, accountId: c.resourceAccount },
      contextVariables
    },
    identityPolicies: c.identityPolicies.map(([name, policy]) => ({ name, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: c.resourcePolicy ?? undefined
  }
  const response = await runSimulation(simulation, {})
  if (response.resultType === 'error') {
    return { error: JSON.stringify(response.errors) }
  }
  const results = response.resultType === 'single' ? [response.result] : response.results
  const ignored = results.flatMap((r) => r.ignoredContextKeys ?? [])
  return { decision: response.overallResult, ignored }
}

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
for (const c of JSON.parse(Buffer.concat(chunks).toString('utf8'))) {
  let answer
  try {
    answer = await simulate(c)
  } catch (error) {
    answer = { error: String(error?.stack ?? error) }
  }
  process.stdout.write(JSON.stringify(answer) + '\n')
}
