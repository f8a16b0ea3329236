import { stopPostgres } from './postgres-global';

export default stopPostgres;
