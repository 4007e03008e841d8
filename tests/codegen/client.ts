// A tiny client that uses the generated types: if the schema drops or retypes a field these
// operations use, `tsc --noEmit` fails here.
import type {
  ChangeSetQuery,
  EngagementsQuery,
  TicketPageQuery,
  TicketPageQueryVariables,
} from "./generated/operations";
import type { CorrectChangeInput, TicketStatus } from "./generated/schema";

const variables: TicketPageQueryVariables = { first: 20 };

export function newestNotes(page: TicketPageQuery): string[] {
  return page.tickets.nodes.flatMap((ticket) =>
    ticket.notes.nodes.map((note) => `${ticket.id} ${note.createdAt}: ${note.body}`),
  );
}

export function vendorIds(page: TicketPageQuery): Array<[string, string]> {
  return page.tickets.nodes.flatMap((ticket) =>
    ticket.externalIds.map((record): [string, string] => [record.id, record.externalId]),
  );
}

export function details(set: ChangeSetQuery): Array<Record<string, unknown>> {
  return set.changeLog.nodes.map((entry) => entry.details);
}

export function firstDay(engagements: EngagementsQuery): string | null {
  const day: string | undefined = engagements.engagements.nodes[0]?.startsOn;
  return day ?? null;
}

export const firstPage = variables;

export function isOpen(status: TicketStatus): boolean {
  return status === "NEW" || status === "IN_PROGRESS";
}

// An explicit `null` clears the systems of a corrected entry; omitting a field keeps it.
export const clearSystems: CorrectChangeInput = {
  changeLogEntryId: "Q2hhbmdlTG9nRW50cnk6...",
  summary: "Corrected",
  reason: "The change concerned no system",
  systemIds: null,
};
